"""Riders' help requests: a question, or a problem with a trip, in a clerk's queue until
answered.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(10), nullable=False),
        sa.Column("trip_id", sa.String(32), nullable=True),
        sa.Column("pass_id", sa.String(16), nullable=True),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("answered_by", sa.String(100), nullable=True),
        sa.Column("reply", sa.String(1000), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered')", name=op.f("ck_help_requests_status")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_help_requests_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
    )
    op.create_index(op.f("ix_help_requests_account_id"), "help_requests", ["account_id"])
    op.create_index(op.f("ix_help_requests_status"), "help_requests", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_help_requests_status"), table_name="help_requests")
    op.drop_index(op.f("ix_help_requests_account_id"), table_name="help_requests")
    op.drop_table("help_requests")
