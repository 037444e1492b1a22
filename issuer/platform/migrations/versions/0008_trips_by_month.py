"""Trips by month: on PostgreSQL ``trips`` becomes partitioned by range of ``at_ms``, one
partition a Hanoi month and a DEFAULT one; the key is (id, at_ms) on both databases, and
``at_ms`` gets an index of its own (the retention's).

On PostgreSQL the rows are copied into the new partitioned table, which then takes the old
one's name; the months they fall in, and the current and next months, get their partitions.
No other table has a foreign key to ``trips`` (journeys and clone alerts name trips by id
only), so none has to be moved along. On SQLite the table is rebuilt with the new key.

The copy rewrites the whole table: on a large installation, stop the ingest workers and run
``vexe db upgrade`` off-peak (docs/operations.md, Partitions).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op

from issuer.platform import partitions
from shared import clock

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD = "trips_0007"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("trips", recreate="always") as batch:
            batch.drop_constraint("pk_trips", type_="primary")
            batch.create_primary_key("pk_trips", ["id", "at_ms"])
        op.create_index("ix_trips_at_ms", "trips", ["at_ms"])
        return
    op.execute(f"ALTER TABLE trips RENAME TO {OLD}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT pk_trips TO pk_{OLD}")
    op.execute(f"ALTER INDEX ix_trips_pass_id_at_ms RENAME TO ix_{OLD}_pass_id_at_ms")
    op.execute(f"CREATE TABLE trips (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (at_ms)")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF trips DEFAULT")
    now_ms = int(clock.now() * 1000)
    current = partitions.month_of(now_ms)
    ahead = partitions.following(*current)
    # Rows dated after next month (a clock far ahead, written before the ingest refused such
    # trips) stay in DEFAULT: a month of their own is made when the calendar gets there.
    wanted = {*partitions.months_with_rows(op.get_bind(), OLD, partitions.bounds_ms(*ahead)[1]),
              current, ahead}
    for year, month in sorted(wanted):
        lo, hi = partitions.bounds_ms(year, month)
        op.execute(f"CREATE TABLE {partitions.name_of(year, month)} PARTITION OF trips "
                   f"FOR VALUES FROM ({lo}) TO ({hi})")
    # Keys and indexes after the copy: built once per partition, not row by row.
    op.execute(f"INSERT INTO trips SELECT * FROM {OLD}")
    op.execute(f"DROP TABLE {OLD}")
    op.execute("ALTER TABLE trips ADD CONSTRAINT pk_trips PRIMARY KEY (id, at_ms)")
    op.execute("CREATE INDEX ix_trips_pass_id_at_ms ON trips (pass_id, at_ms)")
    op.execute("CREATE INDEX ix_trips_at_ms ON trips (at_ms)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index("ix_trips_at_ms", table_name="trips")
        with op.batch_alter_table("trips", recreate="always") as batch:
            batch.drop_constraint("pk_trips", type_="primary")
            batch.create_primary_key("pk_trips", ["id"])
        return
    op.execute("CREATE TABLE trips_0008 (LIKE trips INCLUDING DEFAULTS)")
    # Keyed by id alone again: one row an id. Since 0008 the ingest takes a trip only if its
    # id begins with its time, so an id has one at_ms; a row written by other means under an
    # id already there with another time is left out.
    op.execute("INSERT INTO trips_0008 SELECT DISTINCT ON (id) * FROM trips ORDER BY id, at_ms")
    op.execute("DROP TABLE trips")  # with every partition
    op.execute("ALTER TABLE trips_0008 RENAME TO trips")
    op.execute("ALTER TABLE trips ADD CONSTRAINT pk_trips PRIMARY KEY (id)")
    op.execute("CREATE INDEX ix_trips_pass_id_at_ms ON trips (pass_id, at_ms)")
