"""Revocation reasons as codes: the pass keeps why it was revoked as a code the rider is told
in words (issuer.passes.revocation), and when a clerk allowed the account a free pass again
after a revocation for fraud.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("passes") as batch:
        batch.add_column(sa.Column("revoke_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("free_allowed_at", sa.BigInteger(), nullable=True))
    # Passes revoked before codes: a refund said so in its text; the rest are "other".
    op.execute("UPDATE passes SET revoke_code = 'refund' "
               "WHERE status = 'revoked' AND revoke_reason LIKE 'refund:%'")
    op.execute("UPDATE passes SET revoke_code = 'cloned_qr' "
               "WHERE status = 'revoked' AND revoke_reason LIKE 'cloned QR:%'")
    op.execute("UPDATE passes SET revoke_code = 'other' "
               "WHERE status = 'revoked' AND revoke_code IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("passes") as batch:
        batch.drop_column("free_allowed_at")
        batch.drop_column("revoke_code")
