"""One batch of trips into the database, in one transaction.

1. The trips go straight into ``trips``: executemany with ``INSERT OR IGNORE`` on SQLite,
   COPY on PostgreSQL. Almost always every trip is new; when some were there already (a
   batch written again after a worker died before acknowledging it), the new ones are found
   out exactly: on SQLite by rowid (one writer at a time), on PostgreSQL by going again
   through ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``. Everything after counts new
   trips only. What they add to the rollups is counted before, as if all were new, and again
   in the rare batch where some were not.
2. On PostgreSQL, a transaction-level advisory lock: from here on one worker at a time, so
   that rollup rows are locked in one order and each worker's pairing sees every trip
   committed before it (the inserts above still run side by side).
3. The rollups, the journeys, the cloned-pass alerts and the validators' state.

Pairing and clone checks need the scans of the batch's passes around the batch (hours of
them). PostgreSQL reads them under its lock, the batch's own included. SQLite has one writer
at a time, so there they are read before the write lock, while another worker writes, and
completed under the lock by the trips committed since (rowids above the largest seen
first); the batch's own trips come from memory, not read back.

The caller commits, then acknowledges the entries in Redis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa

from issuer.ridership import clones, pairing, rollups
from issuer.ridership.entries import Row
from issuer.ridership.sql import append_rows, copy_rows, fetch, insert_rows

LOCK_KEY = 0x76657865  # "vexe": the ingest's advisory lock on PostgreSQL
# Pages SQLite keeps in memory for the ingest's connection (default: 2 MB): a day's trips
# and their indexes are hundreds of MB, and a batch touches pages all over the pass index
# and the last hours of trips (read back for pairing). The file is also mapped into memory,
# so the pages the cache has no room for are read without a system call each; the mapping
# is the operating system's page cache, shared, not the worker's own memory.
SQLITE_CACHE_KIB = 256 * 1024
SQLITE_MMAP_BYTES = 16 * 2**30
# How long a worker waits for another's batch to commit before its own batch fails (the
# driver's default is 5 s; a batch of tens of thousands of trips on a slow disk takes more).
SQLITE_BUSY_MS = 120_000

TRIP_COLUMNS = ("id", "validator", "vehicle", "route", "stop", "at_ms", "decision", "reason",
                "pass_id", "product", "category", "proof_at", "mode", "company", "stream_ms",
                "ingested_ms")
assert Row._fields[:15] == TRIP_COLUMNS[:15]  # a Row starts with the trip's columns
COLUMNS = ", ".join(TRIP_COLUMNS)

JOURNEY_COLUMNS = ("boarding_id", "pass_id", "vehicle", "route", "day", "origin_stop",
                   "boarded_ms", "alighting_id", "destination_stop", "alighted_ms")
# A journey closed by another alighting: what pairing decides is the alighting; the rest
# is the boarding's and never changes.
JOURNEY_UPSERT = ("ON CONFLICT (boarding_id) DO UPDATE SET alighting_id = excluded.alighting_id, "
                  "destination_stop = excluded.destination_stop, "
                  "alighted_ms = excluded.alighted_ms")


@dataclass
class Written:
    received: int = 0  # trips in the batch, after dropping repeats within it
    inserted: int = 0  # new trips: the ones counted
    journeys_closed: int = 0
    journeys_changed: int = 0  # closed by another alighting, or open again
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
    # Counted before the trips go in, as if all were new (they almost always are): the
    # counting then runs while another worker holds the write lock.
    companies = _companies(conn, unique)
    counted = rollups.count(unique, companies)
    validators = _validators(unique, now_ms)
    values = [(*r[:15], now_ms) for r in unique]
    stored = None
    if postgres:
        new_ids = _insert_postgresql(conn, values)
    else:
        _tune_sqlite(conn)
        stored = _stored_before_lock(conn, unique, limits)
        _begin_sqlite(conn)
        new_ids = _insert_sqlite(conn, values, stored)
    fresh = unique
    if new_ids is not None:  # some were there already: count the new ones only
        fresh = [row for row in unique if row.id in new_ids]
        counted = rollups.count(fresh, companies)
        validators = _validators(fresh, now_ms)
    out.inserted = len(fresh)
    out.new_ids = {row.id for row in fresh} if new_ids is None else new_ids
    if not fresh:
        return out
    if postgres:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)" % LOCK_KEY)
    rollups.add(conn, counted)
    _journeys_and_clones(conn, fresh, out.new_ids, now_ms, limits, stored, out)
    insert_rows(conn, "validator_status", VALIDATOR_COLUMNS, validators, order="validator",
                tail=VALIDATOR_UPSERT)
    return out


# -- the trips -----------------------------------------------------------------------------

def _tune_sqlite(conn: sa.Connection) -> None:
    """The ingest's settings, once per connection."""
    info = conn.connection.info
    if "ingest_settings" not in info:
        raw = conn.connection.dbapi_connection
        raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        raw.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        info["ingest_settings"] = True


def _begin_sqlite(conn: sa.Connection) -> None:
    """The write lock: SQLite has one writer at a time, taken here for the whole batch."""
    raw = conn.connection.dbapi_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def _insert_sqlite(conn: sa.Connection, values: list[tuple],
                   stored: Stored) -> set[str] | None:
    """Insert the trips, the write lock held; the ids of the new ones, or None when all of
    them were new. The rows added are exactly those above the largest rowid before."""
    raw = conn.connection.dbapi_connection
    stored.complete(conn)  # trips committed since the neighbours were read, and the rowid
    marks = ", ".join("?" for _ in TRIP_COLUMNS)
    cursor = raw.executemany(f"INSERT OR IGNORE INTO trips ({COLUMNS}) VALUES ({marks})", values)
    if cursor.rowcount == len(values):
        return None
    return {r[0] for r in raw.execute("SELECT id FROM trips WHERE rowid > ?", (stored.rowid,))}


def _insert_postgresql(conn: sa.Connection, values: list[tuple]) -> set[str] | None:
    """Insert the trips; the ids of the new ones, or None when all of them were new."""
    attempt = conn.begin_nested()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        copy_rows(cursor, "trips", TRIP_COLUMNS, values)
    except psycopg.errors.UniqueViolation:
        attempt.rollback()
    else:
        attempt.commit()
        return None
    finally:
        cursor.close()
    # Some were there already: the slow way, which tells the new ones.
    return set(insert_rows(conn, "trips", TRIP_COLUMNS, values, order="id",
                           tail="ON CONFLICT (id) DO NOTHING", returning="id"))


def _companies(conn: sa.Connection, fresh: list[Row]) -> dict[str, str]:
    """The company of each vehicle whose validator named none (settlement needs one)."""
    vehicles = sorted({r.vehicle for r in fresh if r.company is None})
    if not vehicles:
        return {}
    rows = fetch(conn, "SELECT code, company_code FROM vehicles WHERE "
                 + _in_list("code", conn.dialect.name == "postgresql", "vehicles"),
                 {"vehicles": _list_param(vehicles, conn.dialect.name == "postgresql")})
    return dict(rows)


def _in_list(column: str, postgres: bool, param: str) -> str:
    # PostgreSQL plans an array by its length (index lookups); SQLite takes a JSON array.
    if postgres:
        return f"{column} = ANY(:{param})"
    return f"{column} IN (SELECT value FROM json_each(:{param}))"


def _list_param(values: list[str], postgres: bool):
    return values if postgres else json.dumps(values)


# -- journeys and clones -------------------------------------------------------------------

def _journeys_and_clones(conn: sa.Connection, fresh: list[Row], new_ids: set[str], now_ms: int,
                         limits: Limits, stored: Stored | None, out: Written) -> None:
    accepted = [row for row in fresh if row.accepted and row.pass_id]
    if not accepted:
        return
    postgres = stored is None
    lo, hi = _reach(accepted, limits)
    pass_ids = _list_param(sorted({r.pass_id for r in accepted}), postgres)
    if postgres:
        context = _context(conn, pass_ids, lo, hi, postgres)
    else:
        context = stored.scans + [pairing.Scan(r.id, r.pass_id, r.vehicle, r.route, r.stop,
                                               r.at_ms, r.mode) for r in accepted]
        context.sort(key=pairing.context_key)
    existing = _journeys(conn, pass_ids, lo, hi, postgres)
    changes = pairing.plan(context, new_ids, existing, limits.max_journey_ms)
    # The journeys were read under the write lock, and only the ingest writes them with the
    # lock held: the ones closed now have no row yet.
    append_rows(conn, "journeys", JOURNEY_COLUMNS, changes.closed)
    insert_rows(conn, "journeys", JOURNEY_COLUMNS, changes.changed, order="boarding_id",
                tail=JOURNEY_UPSERT)
    if changes.reopened:
        conn.execute(sa.text("DELETE FROM journeys WHERE boarding_id = :id"),
                     [{"id": boarding} for boarding in sorted(changes.reopened)])
    rollups.add_od(conn, changes.od.items())
    suspects = clones.detect(context, new_ids, limits.clone_window_ms)
    clones.raise_alerts(conn, suspects, now_ms=now_ms)
    out.journeys_closed = len(changes.closed)
    out.journeys_changed = len(changes.changed) + len(changes.reopened)
    out.alerts = len(suspects)


def _reach(accepted: Sequence[Row], limits: Limits) -> tuple[int, int]:
    """The scan times whose scans can pair with, or be a clone of, one of ``accepted``."""
    reach = max(limits.max_journey_ms, limits.clone_window_ms)
    return min(r.at_ms for r in accepted) - reach, max(r.at_ms for r in accepted) + reach


SCAN_COLUMNS = "id, pass_id, vehicle, route, stop, at_ms, mode"


def _context(conn, pass_ids, lo: int, hi: int, postgres: bool) -> list[pairing.Scan]:
    """Every accepted scan stored of the passes within [lo, hi]. On PostgreSQL sorted by
    ``pairing.context_key`` (text compared byte by byte, whatever the locale); on SQLite
    the caller sorts them with the batch's own."""
    order = ""
    if postgres:
        c = ' COLLATE "C"'
        order = (f"ORDER BY t.pass_id{c}, t.vehicle{c}, t.at_ms, "
                 f"CASE WHEN t.mode = 'board' THEN 0 ELSE 1 END, t.id{c}")
    rows = fetch(conn,
                 f"SELECT {SCAN_COLUMNS} FROM trips t "
                 f"WHERE {_in_list('t.pass_id', postgres, 'pass_ids')} "
                 f"AND t.at_ms BETWEEN :lo AND :hi AND t.decision = 'accept' {order}",
                 {"pass_ids": pass_ids, "lo": lo, "hi": hi})
    scan = pairing.Scan._make
    return [scan(row) for row in rows]


@dataclass
class Stored:
    """SQLite: the accepted scans stored of a batch's passes around the batch, read before
    the write lock; :meth:`complete` adds, under the lock, what was committed since."""

    pass_ids: str | None  # the passes, as the JSON array json_each reads; None: no passes
    lo: int
    hi: int
    rowid: int  # the largest rowid of trips when the scans were read
    scans: list[pairing.Scan]

    def complete(self, conn: sa.Connection) -> None:
        """Add the scans committed since the first read (another worker's batch), and take
        the largest rowid now: the batch's own rows will be those above it."""
        raw = conn.connection.dbapi_connection
        newest = raw.execute("SELECT COALESCE(MAX(rowid), 0) FROM trips").fetchone()[0]
        if newest > self.rowid and self.pass_ids is not None:
            seen = {s.id for s in self.scans}
            scan = pairing.Scan._make
            # NOT INDEXED: the rows above are the other worker's batch, read in rowid order;
            # through the pass index SQLite would look over the whole day.
            self.scans += [scan(row) for row in raw.execute(
                f"SELECT {SCAN_COLUMNS} FROM trips NOT INDEXED WHERE rowid > ? "
                "AND decision = 'accept' AND at_ms BETWEEN ? AND ? "
                "AND pass_id IN (SELECT value FROM json_each(?))",
                (self.rowid, self.lo, self.hi, self.pass_ids)) if row[0] not in seen]
        self.rowid = newest


def _stored_before_lock(conn: sa.Connection, unique: list[Row], limits: Limits) -> Stored:
    """The accepted scans stored of the batch's passes around it, read before the write
    lock: the batch's own trips are among them only if written before (a claimed batch)."""
    raw = conn.connection.dbapi_connection
    # The largest rowid first, then the scans: a trip committed in between is in both reads
    # or in this one and the one under the lock; duplicates are dropped there.
    rowid = raw.execute("SELECT COALESCE(MAX(rowid), 0) FROM trips").fetchone()[0]
    accepted = [row for row in unique if row.accepted and row.pass_id]
    if not accepted:
        return Stored(None, 0, 0, rowid, [])
    lo, hi = _reach(accepted, limits)
    pass_ids = json.dumps(sorted({r.pass_id for r in accepted}))
    return Stored(pass_ids, lo, hi, rowid, _context(conn, pass_ids, lo, hi, postgres=False))


def _journeys(conn, pass_ids, lo: int, hi: int,
              postgres: bool) -> dict[str, pairing.JourneyState]:
    rows = fetch(conn,
                 "SELECT boarding_id, alighting_id, destination_stop, alighted_ms FROM journeys j "
                 f"WHERE {_in_list('j.pass_id', postgres, 'pass_ids')} "
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


def _validators(fresh: list[Row], now_ms: int) -> list[tuple]:
    """What the batch tells about each validator in it (last scan, sync delay, clock): rows
    of ``validator_status``."""
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
    return values
