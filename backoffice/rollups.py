"""Adding a batch of new trips to the rollups, inside the batch's transaction.

The batch's counts are summed in Python first (a few thousand keys for tens of thousands of
trips), then each rollup gets one upsert per key: ``count = count + excluded.count``. Only
trips this transaction inserted are counted, so a trip seen twice is counted once. Rows go
in key order so that two PostgreSQL workers lock shared rows in one order (no deadlock).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from backoffice import models
from backoffice.buckets import day_of
from backoffice.entries import Row
from backoffice.sql import insert_rows
from shared.trip import ACCEPT, BOARD

THREE = ("boardings", "alightings", "refusals")


def _upsert(conn: sa.Connection, table: sa.Table, counts: Mapping[tuple, list[int]],
            measures: Sequence[str] = THREE) -> None:
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(f"{m} = {table.name}.{m} + excluded.{m}" for m in measures)
    insert_rows(conn, table.name, (*keys, *measures),
                [(*key, *n) for key, n in sorted(counts.items())],
                order=", ".join(keys),
                tail=f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


# What a batch adds to each rollup: (table, {key: counts}, measure columns).
Counted = list[tuple[sa.Table, Mapping[tuple, list[int]], Sequence[str]]]


def add(conn: sa.Connection, counted: Counted) -> None:
    """Add what ``count`` counted to the rollups."""
    for table, counts, measures in counted:
        _upsert(conn, table, counts, measures)


def count(rows: Sequence[Row], companies: Mapping[str, str]) -> Counted:
    """What ``rows`` (new trips only) add to every rollup. ``companies``: the company of each
    vehicle, for trips whose validator did not name one. No database work: a worker counts
    before it takes the write lock."""
    if not rows:
        return []
    # Columns, then Counter over zipped columns: the loops over trips run in C. Four counts
    # over the trips; the other rollups are folds of them (a day is whole hours).
    (_, validator, vehicle, route, stop, _, decision, reason, _, _, _, _, mode, company,
     _, hour, day, pkey, _) = zip(*rows)
    # Which of boardings (0), alightings (1), refusals (2) each trip adds to.
    kind = [2 if d != ACCEPT else 0 if m == BOARD else 1 for d, m in zip(decision, mode)]
    by_hour_route = Counter(zip(hour, route, pkey, kind))
    by_vehicle = Counter(zip(day, vehicle, company, pkey, kind))
    by_stop = Counter(zip(day, route, stop, kind))
    by_validator = Counter(zip(day, validator, kind))

    scans = defaultdict(lambda: [0, 0])  # scans, refusals
    for (d, v, k), n in by_validator.items():
        counts = scans[(d, v)]
        counts[0] += n
        counts[1] += n if k == 2 else 0
    refused = Counter((h, r) for h, r, k in zip(hour, reason, kind) if k == 2)
    return [
        (models.RIDE_HOUR, _three(by_hour_route, lambda h, r, p: (h, p)), THREE),
        (models.RIDE_HOUR_ROUTE, _three(by_hour_route, lambda h, r, p: (h, r, p)), THREE),
        (models.RIDE_DAY_ROUTE,
         _three(by_hour_route, lambda h, r, p: (day_of(h * 1000), r, p)), THREE),
        (models.RIDE_DAY_STOP, _three(by_stop, lambda d, r, s: (d, r, s or "")), THREE),
        (models.RIDE_DAY_VEHICLE, _three(by_vehicle, lambda d, v, c, p: (d, v, p)), THREE),
        (models.RIDE_DAY_COMPANY,
         _three(by_vehicle, lambda d, v, c, p: (d, c or companies.get(v, ""), p)), THREE),
        (models.RIDE_DAY_VALIDATOR, scans, ("scans", "refusals")),
        (models.REFUSAL_HOUR, {key: [n] for key, n in refused.items()}, ("refusals",)),
    ]


def _three(counted: Counter, key: Callable[..., tuple]) -> dict[tuple, list[int]]:
    """{(fields..., kind): n} to {key(fields...): [boardings, alightings, refusals]}."""
    out = defaultdict(lambda: [0, 0, 0])
    for (*fields, k), n in counted.items():
        out[key(*fields)][k] += n
    return out


def add_od(conn: sa.Connection, deltas: Iterable[tuple[tuple[int, str, str, str], int]]) -> None:
    """Add journey counts (negative for a journey that moved) to the origin-destination rollup."""
    _upsert(conn, models.OD_DAY, {key: [n] for key, n in deltas if n}, ("journeys",))
