"""The ingest's log of each batch's passes (PostgreSQL pairs a batch before its lock).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ingest_log")),
    )


def downgrade() -> None:
    op.drop_table("ingest_log")
