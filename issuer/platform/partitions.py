"""The trips table by month on PostgreSQL: partitions made ahead, whole old months dropped.

``trips`` is ``PARTITION BY RANGE (at_ms)``: one partition a calendar month in Hanoi time
(00:00 +07 on the 1st to the next 1st), named ``trips_2026_12``, and ``trips_default`` for a
trip whose month has no partition, so that no insert ever fails for want of one. Dropping a
month past the retention is then a catalogue change: no row-by-row delete, no dead rows for
vacuum to clear.

Months are made ahead by the ingest (at start, then every hour), by ``vexe db upgrade`` and
by the migration that partitioned the table. Each partition is made as a table of its own,
given the rows of its month that the DEFAULT partition holds, then attached: PostgreSQL
refuses to attach a month while DEFAULT holds rows of it, and attaching takes a lighter lock
on ``trips`` than ``CREATE TABLE ... PARTITION OF`` (which would wait for, and then stop,
every ingest worker). An advisory lock makes two processes that do it at once take turns.

On SQLite (a laptop's database) the table is not partitioned and nothing here does anything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import sqlalchemy as sa

from shared import clock

TABLE = "trips"
DEFAULT = "trips_default"
# Months made ahead of the current one: the ingest makes them every hour, so one is plenty;
# a trip dated later than that (a validator's clock far ahead) is refused by the ingest.
MONTHS_AHEAD = 1
HANOI_OFFSET_S = 7 * 3600
LOCK_KEY = 0x76657870  # "vexp": making or dropping partitions, one process at a time
_MONTH = re.compile(r"^trips_(\d{4,6})_(\d{2})$")


def is_partition(name: str) -> bool:
    """Whether a table named ``name`` is one of the trips' partitions (for Alembic's
    comparison of the schema with the models, which know the parent only)."""
    return name == DEFAULT or _MONTH.match(name) is not None


def name_of(year: int, month: int) -> str:
    return f"trips_{year:04d}_{month:02d}"


def bounds_ms(year: int, month: int) -> tuple[int, int]:
    """The partition's range: Unix ms of 00:00 Hanoi time on the 1st, and of the next 1st."""
    start, end = clock.month_bounds(year, month)
    return start * 1000, end * 1000


def month_of(at_ms: int) -> tuple[int, int]:
    return clock.hanoi_month(at_ms // 1000)


def following(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def months(first: tuple[int, int], last: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """Every (year, month) from ``first`` to ``last``, both included."""
    year, month = first
    while (year, month) <= last:
        yield year, month
        year, month = following(year, month)


def partitioned(conn: sa.Connection) -> bool:
    """Whether ``trips`` is a partitioned table here (PostgreSQL, migrated past 0008)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                                (TABLE,)).scalar()
    return kind == "p"


def existing(conn: sa.Connection) -> list[str]:
    """The names of the trips' partitions, DEFAULT included, in order."""
    return sorted(conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)", (TABLE,)).scalars())


def ensure(conn: sa.Connection, *, now_ms: int, back_ms: int = 0) -> list[str]:
    """Partitions for every month from the one holding ``now_ms - back_ms`` to MONTHS_AHEAD
    after the current one, in the connection's transaction; the names of those made.
    ``back_ms``: how old a trip the ingest still takes, so that a late one finds its month."""
    if not partitioned(conn):
        return []
    last = month_of(now_ms)
    for _ in range(MONTHS_AHEAD):
        last = following(*last)
    return make(conn, months(month_of(max(0, now_ms - back_ms)), last))


def make(conn: sa.Connection, wanted) -> list[str]:
    """The partitions of the months ``wanted`` ((year, month) pairs) that are missing; the
    names of those made."""
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)" % LOCK_KEY)
    there = set(existing(conn))  # read under the lock: another process may just have made some
    made = []
    for year, month in wanted:
        name = name_of(year, month)
        if name not in there:
            _attach(conn, name, *bounds_ms(year, month), has_default=DEFAULT in there)
            made.append(name)
    return made


def _attach(conn: sa.Connection, name: str, lo: int, hi: int, *, has_default: bool) -> None:
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS)")
    if has_default:
        # Locked first, for the whole transaction: no trip of the month may land in DEFAULT
        # between the copy and the delete (it would be lost), and ATTACH needs this lock
        # anyway. Inserts into other months go on meanwhile.
        conn.exec_driver_sql(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
        conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {DEFAULT} "
                             f"WHERE at_ms >= {lo:d} AND at_ms < {hi:d}")
        conn.exec_driver_sql(f"DELETE FROM {DEFAULT} WHERE at_ms >= {lo:d} AND at_ms < {hi:d}")
    # The parent's indexes and primary key are built on the new table as it is attached.
    conn.exec_driver_sql(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
                         f"FOR VALUES FROM ({lo:d}) TO ({hi:d})")


def drop_before(conn: sa.Connection, cutoff_ms: int) -> list[str]:
    """Detach and drop every month that ends at or before ``cutoff_ms``; their names. A
    partition's rows go at once, with no dead rows left behind. DEFAULT is never dropped."""
    if not partitioned(conn):
        return []
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)" % LOCK_KEY)
    dropped = []
    for name in existing(conn):
        found = _MONTH.match(name)
        if found and bounds_ms(int(found[1]), int(found[2]))[1] <= cutoff_ms:
            conn.exec_driver_sql(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped


def drop_table(conn: sa.Connection) -> None:
    """Drop the partitioned trips table with every partition (before a restore replaces it)."""
    if partitioned(conn):
        conn.exec_driver_sql(f"DROP TABLE {TABLE}")  # its partitions with it


def months_with_rows(conn: sa.Connection, table: str, before_ms: int) -> list[tuple[int, int]]:
    """The Hanoi months in which ``table`` has trips timed before ``before_ms`` (the
    migration's: the months the rows already there need)."""
    # Days of Hanoi time (UTC+7 all year, as backoffice.buckets counts them): a few hundred
    # rows, where months would need time zone arithmetic on every trip.
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT (at_ms / 1000 + {HANOI_OFFSET_S}) / 86400 FROM {table} "
        "WHERE at_ms < %s", (before_ms,)).scalars()
    epoch = dt.date(1970, 1, 1)
    return sorted({((d := epoch + dt.timedelta(days=int(day))).year, d.month) for day in rows})
