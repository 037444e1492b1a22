"""Trips name the network's stops: a stop column as wide as a GTFS stop_id (64, the stops
table's), and how the validator knew the stop (``stop_by``: "gps" or "manual").

Widening a varchar is a change of the catalogue alone on PostgreSQL (no table rewrite);
SQLite does not enforce lengths, and its batch copies the table once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table -> its stop columns, 32 characters wide before this revision
STOP_COLUMNS = {"trips": ("stop",), "journeys": ("origin_stop", "destination_stop"),
                "ride_day_stop": ("stop",), "od_day": ("origin", "destination")}


def upgrade() -> None:
    for table, columns in STOP_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(64), existing_type=sa.String(32))
            if table == "trips":
                batch.add_column(sa.Column("stop_by", sa.String(8), nullable=True))


def downgrade() -> None:
    for table, columns in STOP_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            if table == "trips":
                batch.drop_column("stop_by")
            for column in columns:
                # A longer stop id recorded since is cut: the older schema cannot hold it.
                op.execute(sa.text(f"UPDATE {table} SET {column} = substr({column}, 1, 32) "
                                   f"WHERE length({column}) > 32"))
                batch.alter_column(column, type_=sa.String(32), existing_type=sa.String(64))
