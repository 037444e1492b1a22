"""The rate of a pass's credential refreshes, counted on the pass by the refresh's one
statement (issuer.passes.refresh) instead of in Redis.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("passes") as batch:
        batch.add_column(sa.Column("refresh_tat_ms", sa.BigInteger(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("passes") as batch:
        batch.drop_column("refresh_tat_ms")
