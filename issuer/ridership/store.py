"""One batch of trips into the database, in one transaction.

1. The batch goes into a temporary table (COPY on PostgreSQL).
2. ``INSERT INTO trips ... ON CONFLICT (id) DO NOTHING RETURNING id``: the trips already
   there are dropped from the batch table, so everything after counts new trips only.
3. On PostgreSQL, a transaction-level advisory lock: from here on one worker at a time, so
   that rollup rows are locked in one order and each worker's pairing sees every trip
   committed before it (the inserts above still run side by side).
4. The rollups, the journeys, the cloned-pass alerts and the validators' state.

The caller commits, then acknowledges the entries in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from issuer.ridership import clones, pairing, rollups
from issuer.ridership.sql import fetch, insert_rows
from issuer.ridership.entries import Row
from shared.trip import ACCEPT, ALIGHT, BOARD

LOCK_KEY = 0x76657865  # "vexe": the ingest's advisory lock on PostgreSQL

TRIP_COLUMNS = ("id", "validator", "vehicle", "route", "stop", "at_ms", "decision", "reason",
                "pass_id", "product", "category", "proof_at", "mode", "company", "stream_ms",
                "ingested_ms")
BATCH_COLUMNS = TRIP_COLUMNS + ("hour", "day", "pkey", "is_board", "is_alight", "is_refuse")
BATCH_TABLE = ("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_batch ("
               "id VARCHAR(32) PRIMARY KEY, validator VARCHAR(64) NOT NULL, "
               "vehicle VARCHAR(32) NOT NULL, route VARCHAR(16) NOT NULL, stop VARCHAR(32), "
               "at_ms BIGINT NOT NULL, decision VARCHAR(8) NOT NULL, reason VARCHAR(32) NOT NULL, "
               "pass_id VARCHAR(16), product VARCHAR(16), category VARCHAR(32), proof_at BIGINT, "
               "mode VARCHAR(8) NOT NULL, company VARCHAR(16), stream_ms BIGINT NOT NULL, "
               "ingested_ms BIGINT NOT NULL, "
               "hour BIGINT NOT NULL, day BIGINT NOT NULL, pkey VARCHAR(48) NOT NULL, "
               "is_board INTEGER NOT NULL, is_alight INTEGER NOT NULL, is_refuse INTEGER NOT NULL)")
assert Row._fields[:15] == TRIP_COLUMNS[:15]  # _load copies a Row's first fields as they are
COLUMNS = ", ".join(TRIP_COLUMNS)
INSERT_TRIPS = sa.text(f"INSERT INTO trips ({COLUMNS}) SELECT {COLUMNS} FROM ingest_batch "
                       "WHERE 1 = 1 ON CONFLICT (id) DO NOTHING RETURNING id")


JOURNEY_COLUMNS = ("boarding_id", "pass_id", "vehicle", "route", "day", "origin_stop",
                   "boarded_ms", "alighting_id", "destination_stop", "alighted_ms")
# New journeys and journeys a new scan closed or reopened, in one statement: what pairing
# decides is the alighting; the rest is the boarding's and never changes.
JOURNEY_UPSERT = ("ON CONFLICT (boarding_id) DO UPDATE SET alighting_id = excluded.alighting_id, "
                  "destination_stop = excluded.destination_stop, "
                  "alighted_ms = excluded.alighted_ms")


@dataclass
class Written:
    received: int = 0  # trips in the batch, after dropping repeats within it
    inserted: int = 0  # new trips: the ones counted
    journeys_opened: int = 0
    journeys_changed: int = 0
    alerts: int = 0
    new_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Limits:
    clone_window_ms: int = clones.DEFAULT_WINDOW_MINUTES * 60_000
    max_journey_ms: int = pairing.MAX_JOURNEY_MS


def write(conn: sa.Connection, rows: Sequence[Row], *, now_ms: int,
          limits: Limits = Limits()) -> Written:
    """Write ``rows`` in the connection's transaction; the caller commits."""
    unique = list({row.id: row for row in reversed(rows)}.values())  # the first of repeats
    out = Written(received=len(unique))
    if not unique:
        return out
    postgres = conn.dialect.name == "postgresql"
    _load(conn, unique, now_ms, postgres)
    new_ids = {r[0] for r in conn.execute(INSERT_TRIPS)}
    out.inserted, out.new_ids = len(new_ids), new_ids
    if len(new_ids) < len(unique):
        seen = [row.id for row in unique if row.id not in new_ids]
        conn.execute(sa.text("DELETE FROM ingest_batch WHERE id IN :ids")
                     .bindparams(sa.bindparam("ids", expanding=True)), {"ids": seen})
    if not new_ids:
        return out
    if postgres:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    rollups.add_batch(conn)
    fresh = [row for row in unique if row.id in new_ids]
    _journeys_and_clones(conn, fresh, new_ids, now_ms, limits, postgres, out)
    _validators(conn, fresh, now_ms)
    return out


def _load(conn: sa.Connection, rows: list[Row], now_ms: int, postgres: bool) -> None:
    info = conn.connection.info
    if "ingest_batch" not in info:
        suffix = " ON COMMIT DELETE ROWS" if postgres else ""
        conn.exec_driver_sql(BATCH_TABLE + suffix)
        info["ingest_batch"] = True
    if not postgres:
        conn.exec_driver_sql("DELETE FROM ingest_batch")
    # A Row starts with the trip's columns up to stream_ms, in TRIP_COLUMNS order.
    values = [(*r[:15], now_ms, r.hour, r.day, r.product_key,
               int(r.decision == ACCEPT and r.mode == BOARD),
               int(r.decision == ACCEPT and r.mode == ALIGHT), int(r.decision != ACCEPT))
              for r in rows]
    if postgres:
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY ingest_batch ({', '.join(BATCH_COLUMNS)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        cursor.close()
    else:
        marks = ", ".join("?" for _ in BATCH_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO ingest_batch VALUES ({marks})", values)


# -- journeys and clones -------------------------------------------------------------------

def _journeys_and_clones(conn: sa.Connection, fresh: list[Row], new_ids: set[str], now_ms: int,
                         limits: Limits, postgres: bool, out: Written) -> None:
    accepted = [row for row in fresh if row.accepted and row.pass_id]
    if not accepted:
        return
    reach = max(limits.max_journey_ms, limits.clone_window_ms)
    lo = min(r.at_ms for r in accepted) - reach
    hi = max(r.at_ms for r in accepted) + reach
    pass_ids = sorted({r.pass_id for r in accepted})
    context = _context(conn, pass_ids, lo, hi, postgres)
    existing = _journeys(conn, pass_ids, lo, hi, postgres)
    changes = pairing.plan(context, new_ids, existing, limits.max_journey_ms)
    insert_rows(conn, "journeys", JOURNEY_COLUMNS, changes.new + changes.changed,
                order="boarding_id", tail=JOURNEY_UPSERT)
    rollups.add_od(conn, changes.od.items())
    suspects = clones.detect(context, new_ids, limits.clone_window_ms)
    clones.raise_alerts(conn, suspects, now_ms=now_ms)
    out.journeys_opened, out.journeys_changed = len(changes.new), len(changes.changed)
    out.alerts = len(suspects)


def _passes_filter(column: str, postgres: bool) -> str:
    # PostgreSQL plans an array by its length (index lookups); SQLite reads the batch table.
    if postgres:
        return f"{column} = ANY(:pass_ids)"
    return (f"{column} IN (SELECT pass_id FROM ingest_batch "
            "WHERE decision = 'accept' AND pass_id IS NOT NULL)")


def _context(conn, pass_ids: list[str], lo: int, hi: int, postgres: bool) -> list[pairing.Scan]:
    rows = fetch(conn,
                 "SELECT id, pass_id, vehicle, route, stop, at_ms, mode FROM trips t "
                 f"WHERE {_passes_filter('t.pass_id', postgres)} AND t.at_ms BETWEEN :lo AND :hi "
                 "AND t.decision = 'accept'", {"pass_ids": pass_ids, "lo": lo, "hi": hi})
    scan = pairing.Scan._make
    return [scan(row) for row in rows]


def _journeys(conn, pass_ids: list[str], lo: int, hi: int,
              postgres: bool) -> dict[str, pairing.JourneyState]:
    rows = fetch(conn,
                 "SELECT boarding_id, alighting_id, destination_stop, alighted_ms FROM journeys j "
                 f"WHERE {_passes_filter('j.pass_id', postgres)} "
                 "AND j.boarded_ms BETWEEN :lo AND :hi",
                 {"pass_ids": pass_ids, "lo": lo, "hi": hi})
    return {row[0]: pairing.JourneyState(*row[1:]) for row in rows}


# -- validators ----------------------------------------------------------------------------

def _newer(column: str) -> str:
    return (f"{column} = CASE WHEN excluded.last_scan_ms >= validator_status.last_scan_ms "
            f"THEN excluded.{column} ELSE validator_status.{column} END")


VALIDATOR_COLUMNS = ("validator", "vehicle", "route", "last_scan_ms", "last_sync_ms",
                     "last_ingest_ms", "sync_delay_ms", "clock_offset_s")
VALIDATOR_UPSERT = (
    "ON CONFLICT (validator) DO UPDATE SET "
    + ", ".join([_newer("vehicle"), _newer("route"), _newer("sync_delay_ms")])
    + ", clock_offset_s = COALESCE(excluded.clock_offset_s, validator_status.clock_offset_s)"
    ", last_sync_ms = CASE WHEN excluded.last_sync_ms > validator_status.last_sync_ms "
    "THEN excluded.last_sync_ms ELSE validator_status.last_sync_ms END"
    ", last_scan_ms = CASE WHEN excluded.last_scan_ms > validator_status.last_scan_ms "
    "THEN excluded.last_scan_ms ELSE validator_status.last_scan_ms END"
    ", last_ingest_ms = excluded.last_ingest_ms")


def _validators(conn: sa.Connection, fresh: list[Row], now_ms: int) -> None:
    """What the batch tells about each validator in it (last scan, sync delay, clock)."""
    latest: dict[str, Row] = {}  # by (at_ms, id)
    synced: dict[str, int] = {}  # newest stream time
    offsets: dict[str, list[int]] = {}  # validator clock minus the phone's, per proof
    for row in fresh:
        name = row.validator
        seen = latest.get(name)
        if seen is None or (row.at_ms, row.id) > (seen.at_ms, seen.id):
            latest[name] = row
        if row.stream_ms > synced.get(name, -1):
            synced[name] = row.stream_ms
        if row.proof_at is not None:
            offsets.setdefault(name, []).append(row.at_ms // 1000 - row.proof_at)
    values = []
    for name, last in latest.items():
        mine = sorted(offsets.get(name, ()))
        values.append((name, last.vehicle, last.route, last.at_ms, synced[name], now_ms,
                       last.stream_ms - last.at_ms, mine[len(mine) // 2] if mine else None))
    insert_rows(conn, "validator_status", VALIDATOR_COLUMNS, values, order="validator",
                tail=VALIDATOR_UPSERT)
