"""Reminders to renew: the rider's optional e-mail address, and the reminders sent (one a
pass, so a command run twice sends nothing twice).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
    op.create_table(
        "sent_reminders",
        sa.Column("pass_id", sa.String(10), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"],
                                name=op.f("fk_sent_reminders_pass_id_passes")),
        sa.PrimaryKeyConstraint("pass_id", name=op.f("pk_sent_reminders")),
    )


def downgrade() -> None:
    op.drop_table("sent_reminders")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email")
