"""Adding a batch of new trips to the rollups, in SQL, inside the batch's transaction.

Each rollup is one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`` over the
batch table, which by then holds only the trips this transaction inserted: a trip seen
twice is counted once. Rows go in key order so that two PostgreSQL workers lock shared
rows in one order (no deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from issuer.ridership import models
from issuer.ridership.sql import insert_rows

THREE = {"boardings": "SUM(b.is_board)", "alightings": "SUM(b.is_alight)",
         "refusals": "SUM(b.is_refuse)"}


@dataclass(frozen=True)
class Rollup:
    table: sa.Table
    keys: Mapping[str, str]  # column -> SQL over the batch table "b"
    measures: Mapping[str, str] = None  # column -> aggregate
    where: str = "1 = 1"  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    join: str = ""

    def sql(self) -> str:
        measures = self.measures or THREE
        keys = ", ".join(self.keys)
        exprs = ", ".join(self.keys.values())
        updates = ", ".join(f"{m} = {self.table.name}.{m} + excluded.{m}" for m in measures)
        return (f"INSERT INTO {self.table.name} ({keys}, {', '.join(measures)}) "
                f"SELECT {exprs}, {', '.join(measures.values())} FROM ingest_batch b {self.join} "
                f"WHERE {self.where} GROUP BY {exprs} ORDER BY {exprs} "
                f"ON CONFLICT ({keys}) DO UPDATE SET {updates}")


STOP = "COALESCE(b.stop, '')"
ROLLUPS = (
    Rollup(models.RIDE_HOUR, {"hour": "b.hour", "product": "b.pkey"}),
    Rollup(models.RIDE_HOUR_ROUTE, {"hour": "b.hour", "route": "b.route", "product": "b.pkey"}),
    Rollup(models.RIDE_DAY_ROUTE, {"day": "b.day", "route": "b.route", "product": "b.pkey"}),
    Rollup(models.RIDE_DAY_STOP, {"day": "b.day", "route": "b.route", "stop": STOP}),
    Rollup(models.RIDE_DAY_VEHICLE, {"day": "b.day", "vehicle": "b.vehicle", "product": "b.pkey"}),
    Rollup(models.RIDE_DAY_COMPANY,
           {"day": "b.day", "company": "COALESCE(b.company, v.company_code, '')", "product": "b.pkey"},
           join="LEFT JOIN vehicles v ON v.code = b.vehicle"),
    Rollup(models.RIDE_DAY_VALIDATOR, {"day": "b.day", "validator": "b.validator"},
           {"scans": "COUNT(*)", "refusals": "SUM(b.is_refuse)"}),
    Rollup(models.REFUSAL_HOUR, {"hour": "b.hour", "reason": "b.reason"},
           {"refusals": "COUNT(*)"}, where="b.is_refuse = 1"),
)
STATEMENTS = tuple(sa.text(r.sql()) for r in ROLLUPS)


def add_batch(conn: sa.Connection) -> None:
    """Count the trips in the batch table into every rollup."""
    for statement in STATEMENTS:
        conn.execute(statement)


OD_COLUMNS = ("day", "route", "origin", "destination", "journeys")
OD_UPSERT = ("ON CONFLICT (day, route, origin, destination) "
             "DO UPDATE SET journeys = od_day.journeys + excluded.journeys")


def add_od(conn: sa.Connection, deltas: Iterable[tuple[tuple[int, str, str, str], int]]) -> None:
    """Add journey counts (negative for a journey that moved) to the origin-destination rollup;
    in key order, like the other rollups."""
    insert_rows(conn, "od_day", OD_COLUMNS, [(*key, n) for key, n in sorted(deltas) if n],
                order="day, route, origin, destination", tail=OD_UPSERT)
