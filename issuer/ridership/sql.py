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
from collections.abc import Sequence

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: str, columns: Sequence[str], rows: list[tuple], *,
                order: str, tail: str = "") -> None:
    """``INSERT INTO table (columns) <rows> tail`` for every row, ``tail`` being an
    ``ON CONFLICT`` clause that may name ``excluded.*``. On PostgreSQL the rows go in
    ``order`` (SQL over the columns), so that two transactions lock shared rows in one
    order; SQLite has one writer at a time."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks}) {tail}", rows)
        return
    stage = _stage(conn, table)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # Emptied at every commit; and here, for a second use in one transaction (no cost
        # when already empty).
        cursor.execute(f"DELETE FROM {stage}")
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                       f"ORDER BY {order} {tail}")
    finally:
        cursor.close()


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
    if conn.dialect.name == "postgresql":
        sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()
