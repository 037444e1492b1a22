"""The pass lifecycle: e-ID subjects on accounts, device labels, fare categories and reduced
prices as data, free-pass and reduced-fare applications, orders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Hanoi's groups: students and workers in industrial zones pay about half; the elderly
# (60 and over), people with disabilities, people with merit and children under 6 ride free.
CATEGORIES = [
    {"code": "student", "kind": "reduced", "name_vi": "Học sinh, sinh viên",
     "name_en": "Students", "min_age": None, "max_age": None, "needs_approval": True,
     "validity_months": 12},
    {"code": "industrial_worker", "kind": "reduced", "name_vi": "Công nhân khu công nghiệp",
     "name_en": "Workers in industrial zones", "min_age": None, "max_age": None,
     "needs_approval": True, "validity_months": 12},
    {"code": "elderly", "kind": "free", "name_vi": "Người cao tuổi", "name_en": "Elderly people",
     "min_age": 60, "max_age": None, "needs_approval": False, "validity_months": 12},
    {"code": "disability", "kind": "free", "name_vi": "Người khuyết tật",
     "name_en": "People with disabilities", "min_age": None, "max_age": None,
     "needs_approval": True, "validity_months": 12},
    {"code": "merit", "kind": "free", "name_vi": "Người có công với cách mạng",
     "name_en": "People with merit", "min_age": None, "max_age": None,
     "needs_approval": True, "validity_months": 12},
    {"code": "child", "kind": "free", "name_vi": "Trẻ em dưới 6 tuổi",
     "name_en": "Children under 6", "min_age": None, "max_age": 5, "needs_approval": False,
     "validity_months": 12},
]
PRICES = [
    {"product": "single", "category": "student", "price_vnd": 55_000},
    {"product": "single", "category": "industrial_worker", "price_vnd": 55_000},
    {"product": "multi", "category": "student", "price_vnd": 100_000},
    {"product": "multi", "category": "industrial_worker", "price_vnd": 100_000},
]


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("oidc_subject", sa.String(300), nullable=True))
        batch.create_unique_constraint(op.f("uq_accounts_oidc_subject"), ["oidc_subject"])
    with op.batch_alter_table("device_bindings") as batch:
        batch.add_column(sa.Column("label", sa.String(100), nullable=True))
        batch.add_column(sa.Column("retire_reason", sa.String(500), nullable=True))
    categories = op.create_table(
        "fare_categories",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name_vi", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("validity_months", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('reduced', 'free')", name=op.f("ck_fare_categories_kind")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_fare_categories")),
    )
    op.bulk_insert(categories, CATEGORIES)
    prices = op.create_table(
        "product_prices",
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("price_vnd", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category"], ["fare_categories.code"],
                                name=op.f("fk_product_prices_category_fare_categories")),
        sa.ForeignKeyConstraint(["product"], ["products.code"],
                                name=op.f("fk_product_prices_product_products")),
        sa.PrimaryKeyConstraint("product", "category", name=op.f("pk_product_prices")),
    )
    op.bulk_insert(prices, PRICES)
    op.create_table(
        "applications",
        sa.Column("id", sa.String(10), nullable=False),
        sa.Column("account_id", sa.String(10), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("evidence_note", sa.String(1000), nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_type", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.Column("eligible_until", sa.BigInteger(), nullable=True),
        sa.Column("pass_id", sa.String(10), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')",
                           name=op.f("ck_applications_status")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_applications_account_id_accounts")),
        sa.ForeignKeyConstraint(["category"], ["fare_categories.code"],
                                name=op.f("fk_applications_category_fare_categories")),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"],
                                name=op.f("fk_applications_pass_id_passes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    op.create_index(op.f("ix_applications_account_id"), "applications", ["account_id"])
    op.create_index(op.f("ix_applications_status"), "applications", ["status"])
    op.create_index("uq_applications_pending", "applications", ["account_id", "category"],
                    unique=True, sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "orders",
        sa.Column("id", sa.String(10), nullable=False),
        sa.Column("account_id", sa.String(10), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("route_code", sa.String(16), nullable=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("price_vnd", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.BigInteger(), nullable=True),
        sa.Column("payment_ref", sa.String(64), nullable=True),
        sa.Column("handled_by", sa.String(100), nullable=True),
        sa.Column("cancelled_at", sa.BigInteger(), nullable=True),
        sa.Column("refunded_at", sa.BigInteger(), nullable=True),
        sa.Column("refunded_by", sa.String(100), nullable=True),
        sa.Column("refund_reason", sa.String(500), nullable=True),
        sa.Column("pass_id", sa.String(10), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'paid', 'cancelled', 'refunded')",
                           name=op.f("ck_orders_status")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_orders_account_id_accounts")),
        sa.ForeignKeyConstraint(["category"], ["fare_categories.code"],
                                name=op.f("fk_orders_category_fare_categories")),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"], name=op.f("fk_orders_pass_id_passes")),
        sa.ForeignKeyConstraint(["product"], ["products.code"],
                                name=op.f("fk_orders_product_products")),
        sa.ForeignKeyConstraint(["route_code"], ["routes.code"],
                                name=op.f("fk_orders_route_code_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("pass_id", name=op.f("uq_orders_pass_id")),
    )
    op.create_index(op.f("ix_orders_account_id"), "orders", ["account_id"])
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("applications")
    op.drop_table("product_prices")
    op.drop_table("fare_categories")
    with op.batch_alter_table("device_bindings") as batch:
        batch.drop_column("retire_reason")
        batch.drop_column("label")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(op.f("uq_accounts_oidc_subject"), type_="unique")
        batch.drop_column("oidc_subject")
