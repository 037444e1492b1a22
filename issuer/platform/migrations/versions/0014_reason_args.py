"""The code and values of a payment's reason and of a notification's outcome, beside their
English sentence, so that the pages say them in the reader's language (issuer.sales.reasons).
Rows written before keep only their sentence.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("reason_args", sa.JSON(), nullable=True))
    with op.batch_alter_table("payment_notifications") as batch:
        batch.add_column(sa.Column("outcome_args", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_notifications") as batch:
        batch.drop_column("outcome_args")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reason_args")
