"""The trips table by month on PostgreSQL, against the single table it replaced.

    .venv/bin/python bench/bench_partitions.py [--trips 1000000]

In one run, two fresh schemas in PostgreSQL's database ``test``: **single**, at migration
0007 (one ``trips`` table keyed by id), and **by month**, at the head (partitioned by Hanoi
month, keyed by (id, at_ms), with the index on ``at_ms``). The same trips, half of them in
October 2026 and half in November, ids minted as validators mint them:

1. **insert**: binary COPY into ``trips``, 5,000 a transaction, as the ingest writes a batch
   of new trips (``backoffice.sql.copy_rows``): trips per second;
2. **retention of October**: on the single table, ``DELETE`` of October's trips, then the
   ``VACUUM`` that the dead rows need before their space is used again; by month,
   ``issuer.platform.partitions.drop_before`` (DETACH and DROP of ``trips_2026_10``): seconds.

Rows are generated in Python first and are not timed. The schemas are dropped after.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid

import sqlalchemy as sa
from alembic import command

from backoffice.sql import copy_rows
from backoffice.store import TRIP_COLUMNS
from issuer.platform import db, partitions

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PER = 5000


def make_trips(n: int, seed: int = 2026) -> list[tuple]:
    rng = random.Random(seed)
    october, _ = partitions.bounds_ms(2026, 10)
    _, november_end = partitions.bounds_ms(2026, 11)
    span = november_end - october
    rows = []
    for i in range(n):
        at = october + i * span // n + rng.randrange(1000)
        rows.append((f"{at:012x}{i:08x}", f"V{i % 6000:04d}", f"29B-{i % 3000:04d}",
                     f"R{i % 150:03d}", "S01", at, "accept", "ok", f"P{rng.randrange(10**6):09d}",
                     "multi", None, at // 1000, "board", None, at, at))
    return rows


def schema(revision: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with sa.create_engine(PG_URL).begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    url = f"{PG_URL}?options=-csearch_path%3D{name}"
    command.upgrade(db.alembic_config(url), revision)
    if revision == "head":
        with db.engine(url).begin() as conn:
            partitions.make(conn, [(2026, 10), (2026, 11)])
    return name, url


def insert(url: str, rows: list[tuple]) -> float:
    engine = db.engine(url)
    start = time.perf_counter()
    for i in range(0, len(rows), PER):
        with engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            copy_rows(cursor, "trips", TRIP_COLUMNS, rows[i:i + PER])
            cursor.close()
    return len(rows) / (time.perf_counter() - start)


def retention_single(url: str, cutoff: int) -> dict:
    engine = db.engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        deleted = conn.execute(sa.text("DELETE FROM trips WHERE at_ms < :c"), {"c": cutoff})
    delete_s = time.perf_counter() - start
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM trips")
    return {"deleted": deleted.rowcount, "delete_s": round(delete_s, 3),
            "vacuum_s": round(time.perf_counter() - start, 3)}


def retention_by_month(url: str, cutoff: int) -> dict:
    start = time.perf_counter()
    with db.engine(url).begin() as conn:
        dropped = partitions.drop_before(conn, cutoff)
    return {"dropped": dropped, "drop_s": round(time.perf_counter() - start, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = make_trips(args.trips)
    cutoff = partitions.bounds_ms(2026, 11)[0]
    out, made = {"trips": args.trips}, []
    try:
        for label, revision in (("single", "0007"), ("by_month", "head")):
            name, url = schema(revision)
            made.append((name, url))
            result = {"insert_trips_per_s": round(insert(url, rows))}
            with db.engine(url).connect() as conn:
                result["table_bytes"] = int(conn.execute(sa.text(
                    "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "WHERE c.relname LIKE :trips AND c.relkind = 'r' AND c.relnamespace = "
                    "to_regnamespace(current_schema())"), {"trips": "trips%"}).scalar())
            retention = retention_single if revision == "0007" else retention_by_month
            result["retention_october"] = retention(url, cutoff)
            out[label] = result
    finally:
        for name, url in made:
            db.dispose(url)
            with sa.create_engine(PG_URL).begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
