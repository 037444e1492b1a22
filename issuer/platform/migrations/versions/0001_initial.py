"""The issuer's first schema: routes, products (seeded), accounts, passes, device bindings,
credentials and signing keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Hanoi's monthly bus pass prices at full fare; the free pass costs nothing.
PRODUCTS = [
    {"code": "single", "name_vi": "Vé tháng đơn tuyến", "name_en": "Monthly single-route pass",
     "price_vnd": 100_000},
    {"code": "multi", "name_vi": "Vé tháng liên tuyến", "name_en": "Monthly multi-route pass",
     "price_vnd": 200_000},
    {"code": "free", "name_vi": "Thẻ miễn phí đi xe buýt", "name_en": "Free bus pass",
     "price_vnd": 0},
]


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_routes")),
    )
    products = op.create_table(
        "products",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name_vi", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("price_vnd", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_products")),
    )
    op.bulk_insert(products, PRODUCTS)
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(10), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("identity_level", sa.Integer(), nullable=False),
        sa.Column("national_id_hash", sa.String(64), nullable=True),
        sa.Column("rider_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("national_id_hash", name=op.f("uq_accounts_national_id_hash")),
        sa.UniqueConstraint("rider_token_hash", name=op.f("uq_accounts_rider_token_hash")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("sealed_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    op.create_table(
        "passes",
        sa.Column("id", sa.String(10), nullable=False),
        sa.Column("account_id", sa.String(10), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("route_code", sa.String(16), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revoke_reason", sa.String(500), nullable=True),
        sa.Column("credentials_until", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=True),
        sa.Column("replaced_until", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_passes_status")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_passes_account_id_accounts")),
        sa.ForeignKeyConstraint(["product"], ["products.code"],
                                name=op.f("fk_passes_product_products")),
        sa.ForeignKeyConstraint(["route_code"], ["routes.code"],
                                name=op.f("fk_passes_route_code_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passes")),
    )
    op.create_index(op.f("ix_passes_account_id"), "passes", ["account_id"])
    op.create_index("ix_passes_status_credentials_until", "passes",
                    ["status", "credentials_until"])
    op.create_index("ix_passes_replaced_until", "passes", ["replaced_until"])
    op.create_table(
        "device_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.String(10), nullable=False),
        sa.Column("device_key", sa.String(64), nullable=False),
        sa.Column("custodial", sa.Boolean(), nullable=False),
        sa.Column("sealed_private_key", sa.Text(), nullable=True),
        sa.Column("credential", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"],
                                name=op.f("fk_device_bindings_pass_id_passes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_bindings")),
    )
    op.create_index(op.f("ix_device_bindings_pass_id"), "device_bindings", ["pass_id"])
    op.create_index("uq_device_bindings_active_pass", "device_bindings", ["pass_id"],
                    unique=True, sqlite_where=sa.text("retired_at IS NULL"),
                    postgresql_where=sa.text("retired_at IS NULL"))
    op.create_table(
        "credentials",
        sa.Column("jti", sa.String(8), nullable=False),
        sa.Column("pass_id", sa.String(10), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("nbf", sa.BigInteger(), nullable=False),
        sa.Column("exp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["binding_id"], ["device_bindings.id"],
                                name=op.f("fk_credentials_binding_id_device_bindings")),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"],
                                name=op.f("fk_credentials_pass_id_passes")),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_credentials")),
    )
    op.create_index(op.f("ix_credentials_pass_id"), "credentials", ["pass_id"])


def downgrade() -> None:
    op.drop_table("credentials")
    op.drop_table("device_bindings")
    op.drop_table("passes")
    op.drop_table("signing_keys")
    op.drop_table("accounts")
    op.drop_table("products")
    op.drop_table("routes")
