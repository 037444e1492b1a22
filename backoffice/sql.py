"""Set-based writes and raw reads for the ingest, on SQLite and PostgreSQL.

A batch writes thousands of journey, validator and origin–destination rows and reads tens of
thousands of neighbouring scans back. Per-row work in SQLAlchemy (parameter processing,
``Row`` objects) or in psycopg's executemany (a statement sent and parsed per row) cost more
than the database's own work, so these go to the driver directly:

- SQLite runs in-process: ``executemany`` of one prepared statement is as cheap as it gets;
- PostgreSQL gets the rows by COPY into a temporary copy of the target table, then one
  ``INSERT ... SELECT ... ON CONFLICT`` for all of them.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: str, columns: Sequence[str], rows: list[tuple], *,
                order: str, tail: str = "", returning: str | None = None) -> list | None:
    """``INSERT INTO table (columns) <rows> tail`` for every row, ``tail`` being an
    ``ON CONFLICT`` clause that may name ``excluded.*``. On PostgreSQL the rows go in
    ``order`` (SQL over the columns), so that two transactions lock shared rows in one
    order; SQLite has one writer at a time. ``returning`` (PostgreSQL only): a column of the
    rows inserted, returned as a list."""
    if not rows:
        return [] if returning else None
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        if returning:
            raise ValueError("RETURNING with many rows is for PostgreSQL only")
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks}) {tail}", rows)
        return None
    stage = _stage(conn, table)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # Emptied at every commit; and here, for a second use in one transaction (no cost
        # when already empty).
        cursor.execute(f"DELETE FROM {stage}")
        copy_rows(cursor, stage, columns, rows)
        back = f" RETURNING {returning}" if returning else ""
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                       f"ORDER BY {order} {tail}{back}")
        return [r[0] for r in cursor.fetchall()] if returning else None
    finally:
        cursor.close()


def append_rows(conn: sa.Connection, table: str, columns: Sequence[str],
                rows: list[tuple]) -> None:
    """Insert rows known to be new (a key already there fails the transaction): COPY on
    PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        conn.connection.dbapi_connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        copy_rows(cursor, table, columns, rows)
    finally:
        cursor.close()


def copy_rows(cursor, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """PostgreSQL's COPY of ``rows`` into ``table``, on a psycopg cursor. In the binary
    format: psycopg writes an integer or a text as the server stores it, with about half the
    work of the text format (whose formatting was a tenth of a worker's CPU). The binary
    format carries no types, so each value is written as its column's type."""
    types = _column_types(cursor.connection, table)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([types[name] for name in columns])
        for row in rows:
            copy.write_row(row)


# Each connection's tables' column types (oids), read from the catalogue once: a table's
# name means the one its search_path finds, which differs between connections.
_TYPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _column_types(connection, table: str) -> dict[str, int]:
    known = _TYPES.setdefault(connection, {})
    if table not in known:
        with connection.cursor() as cursor:
            cursor.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = "
                           "%s::regclass AND attnum > 0 AND NOT attisdropped", (table,))
            known[table] = dict(cursor.fetchall())
    return known[table]


def _stage(conn: sa.Connection, table: str) -> str:
    """A session's temporary table shaped like ``table`` (once per connection)."""
    stage = f"stage_{table}"
    info = conn.connection.info
    if stage not in info:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                             f"(LIKE {table}) ON COMMIT DELETE ROWS")
        info[stage] = True
    return stage


def fetch(conn: sa.Connection, sql: str, params: dict) -> list[tuple]:
    """All rows of a query as the driver's tuples. ``sql`` names parameters ``:name``."""
    options = {}
    if conn.dialect.name == "postgresql":
        sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
        # Planned for these values each time: psycopg prepares a query it has run five times,
        # and PostgreSQL's generic plan for "= ANY(<an array of thousands of passes>)" may
        # compare every row with every element (a batch took seconds, not milliseconds).
        options["prepare"] = False
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params, **options)
        return cursor.fetchall()
    finally:
        cursor.close()
