"""Cashless sales: payments (each attempt or transfer, unique per provider transaction),
every payment notification as received, orders that expire unpaid and the amount a refund
gave back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_STATUS = "status IN ('pending', 'paid', 'cancelled', 'refunded')"
NEW_STATUS = "status IN ('pending', 'paid', 'cancelled', 'refunded', 'expired')"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("expires_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("refund_vnd", sa.BigInteger(), nullable=True))
        batch.drop_constraint(op.f("ck_orders_status"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_status"), NEW_STATUS)
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(10), nullable=True),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("provider_txn", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('started', 'paid', 'held', 'failed', 'applied', "
                           "'refunding', 'refunded')", name=op.f("ck_payments_state")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_payments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider", "provider_txn",
                            name=op.f("uq_payments_provider_provider_txn")),
    )
    op.create_index(op.f("ix_payments_reference"), "payments", ["reference"])
    op.create_index(op.f("ix_payments_order_id"), "payments", ["order_id"])
    op.create_index(op.f("ix_payments_state"), "payments", ["state"])
    op.create_table(
        "payment_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature_ok", sa.Boolean(), nullable=False),
        sa.Column("provider_txn", sa.String(64), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(200), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.UniqueConstraint("provider", "signature",
                            name=op.f("uq_payment_notifications_provider_signature")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_payment_notifications_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_notifications")),
    )
    op.create_index(op.f("ix_payment_notifications_received_at"), "payment_notifications",
                    ["received_at"])
    op.create_index(op.f("ix_payment_notifications_provider_txn"), "payment_notifications",
                    ["provider_txn"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_notifications_provider_txn"),
                  table_name="payment_notifications")
    op.drop_index(op.f("ix_payment_notifications_received_at"),
                  table_name="payment_notifications")
    op.drop_table("payment_notifications")
    op.drop_index(op.f("ix_payments_state"), table_name="payments")
    op.drop_index(op.f("ix_payments_order_id"), table_name="payments")
    op.drop_index(op.f("ix_payments_reference"), table_name="payments")
    op.drop_table("payments")
    op.execute("UPDATE orders SET status = 'cancelled' WHERE status = 'expired'")
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("ck_orders_status"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_status"), OLD_STATUS)
        batch.drop_column("refund_vnd")
        batch.drop_column("expires_at")
