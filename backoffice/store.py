"""One batch of trips into the database, in one transaction.

1. The trips go straight into ``trips``: executemany with ``INSERT OR IGNORE`` on SQLite,
   COPY on PostgreSQL. Almost always every trip is new; when some were there already (a
   batch written again after a worker died before acknowledging it), the new ones are found
   out exactly: on SQLite by rowid (one writer at a time), on PostgreSQL by going again
   through ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``. Everything after counts new
   trips only. What they add to the rollups is counted before, as if all were new, and again
   in the rare batch where some were not.
2. The lock: SQLite's write lock (taken before the inserts: one writer at a time), on
   PostgreSQL a transaction-level advisory lock after them (the COPYs run side by side).
   From here on one worker at a time, so that rollup rows are locked in one order and each
   worker's pairing sees every trip committed before it.
3. The rollups, the journeys, the cloned-pass alerts and the validators' state.

Pairing and clone checks need the scans of the batch's passes around the batch (hours of
them). The batch is paired before the lock, while another worker writes, from the scans and
journeys stored and the batch's own trips (from memory), as if all of them were new. Under
the lock, only the passes that trips committed since touched are paired again
(:class:`Stored`). What was committed since is told by a mark read first: on SQLite the
largest rowid of ``trips`` (the rows above it); on PostgreSQL the newest row of
``ingest_log``, where each batch writes its passes under the lock (the rows after it: the
lock orders both the log's numbers and the commits).

The caller commits, then acknowledges the entries in Redis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa

from backoffice import clones, pairing, rollups
from backoffice.entries import Row
from backoffice.sql import append_rows, copy_rows, fetch, insert_rows
from shared.trip import BOARD, Trip

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
# ingest_log rows kept (PostgreSQL): a batch pairing before the lock needs the rows of the
# batches committed meanwhile, one or two with a few workers. One that finds more than this
# many committed reads the scans of all its passes again.
LOG_KEEP = 1000
# validator_status.clock_offset_s is a 32-bit column: 68 years either way.
OFFSET_MOST = 2**31 - 1

TRIP_COLUMNS = ("id", "validator", "vehicle", "route", "stop", "at_ms", "decision", "reason",
                "pass_id", "product", "category", "proof_at", "mode", "company", "stream_ms",
                "ingested_ms", "stop_by")
assert Row._fields[:15] == TRIP_COLUMNS[:15]  # a Row starts with the trip's columns
assert set(Trip.__struct_fields__) <= set(Row._fields)  # and holds every field of a trip
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

    def __add__(self, other: Written) -> Written:
        """Two parts of one batch, written one after the other."""
        return Written(self.received + other.received, self.inserted + other.inserted,
                       self.journeys_closed + other.journeys_closed,
                       self.journeys_changed + other.journeys_changed,
                       self.alerts + other.alerts, self.new_ids | other.new_ids)


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
    # Counted and paired before the trips go in, as if all were new (they almost always
    # are): that work then runs while another worker holds the write lock.
    companies = _companies(conn, unique)
    counted = rollups.count(unique, companies)
    validators = _validators(unique, now_ms)
    values = [(*r[:15], now_ms, r.stop_by) for r in unique]
    ids = {row.id for row in unique}
    if not postgres:
        tune_sqlite(conn)
    stored = Stored.before_lock(conn, unique, ids, limits)
    if postgres:
        new_ids = _insert_postgresql(conn, values)
    else:
        _lock(conn)
        new_ids = _insert_sqlite(conn, values, stored)
    fresh = unique
    if new_ids is not None:  # some were there already: count the new ones only
        fresh = [row for row in unique if row.id in new_ids]
        counted = rollups.count(fresh, companies)
        validators = _validators(fresh, now_ms)
    out.inserted = len(fresh)
    out.new_ids = ids if new_ids is None else new_ids
    if not fresh:
        return out
    if postgres:
        _lock(conn)
        stored.complete(conn)
        stored.log(conn)
    rollups.add(conn, counted)
    changes, suspects = stored.under_lock(conn, out.new_ids, limits, all_new=new_ids is None)
    _write_pairing(conn, changes, suspects, now_ms, out)
    insert_rows(conn, "validator_status", VALIDATOR_COLUMNS, validators, order="validator",
                tail=VALIDATOR_UPSERT)
    return out


# -- the trips -----------------------------------------------------------------------------

def tune_sqlite(conn: sa.Connection) -> None:
    """The ingest's settings, once per connection."""
    info = conn.connection.info
    if "ingest_settings" not in info:
        raw = conn.connection.dbapi_connection
        raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        raw.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        info["ingest_settings"] = True


def _lock(conn: sa.Connection) -> None:
    """From here to the commit, one worker at a time: SQLite's write lock (it has one writer
    at a time), PostgreSQL's advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)" % LOCK_KEY)
        return
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
    return {r[0] for r in raw.execute("SELECT id FROM trips WHERE rowid > ?", (stored.mark,))}


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
    # The key is (id, at_ms), the month's partition's column with the id (an id begins
    # with its time, entries.parse: one id, one at_ms).
    return set(insert_rows(conn, "trips", TRIP_COLUMNS, values, order="id",
                           tail="ON CONFLICT (id, at_ms) DO NOTHING", returning="id"))


def _companies(conn: sa.Connection, fresh: list[Row]) -> dict[str, str]:
    """The company of each vehicle whose validator named none (settlement needs one)."""
    vehicles = sorted({r.vehicle for r in fresh if r.company is None})
    if not vehicles:
        return {}
    rows = fetch(conn, "SELECT code, company_code FROM vehicles WHERE "
                 + _in_list("code", conn.dialect.name == "postgresql", "vehicles"),
                 {"vehicles": json.dumps(vehicles)})
    return dict(rows)


def _in_list(column: str, postgres: bool, param: str) -> str:
    """``column`` is one of ``param``, a JSON array (json.dumps of the values)."""
    # A JSON array on both databases: psycopg writes a list of 100,000 texts
    # as an array element by element in Python, json.dumps in C. PostgreSQL makes the array
    # once (an InitPlan) and looks each value up in the index.
    if postgres:
        return f"{column} = ANY(ARRAY(SELECT json_array_elements_text(CAST(:{param} AS json))))"
    return f"{column} IN (SELECT value FROM json_each(:{param}))"


# -- journeys and clones -------------------------------------------------------------------

Paired = tuple[pairing.Changes, list[clones.Suspect]]


def _pair(conn: sa.Connection, context: list[pairing.Scan], new_ids: set[str], pass_ids,
          lo: int, hi: int, limits: Limits) -> Paired:
    """Journeys and clones of the passes ``pass_ids``: ``context`` holds every accepted scan
    of theirs within [lo, hi]; their journeys stored are read here."""
    context.sort()  # see pairing.Scan
    existing = _journeys(conn, pass_ids, lo, hi, conn.dialect.name == "postgresql")
    return (pairing.plan(context, new_ids, existing, limits.max_journey_ms),
            clones.detect(context, new_ids, limits.clone_window_ms))


def _write_pairing(conn: sa.Connection, changes: pairing.Changes,
                   suspects: list[clones.Suspect], now_ms: int, out: Written) -> None:
    # The journeys were read before the lock, and again under it for the passes another
    # worker's trips touched meanwhile; only the ingest writes them, with the lock held: the
    # ones closed now have no row yet.
    append_rows(conn, "journeys", JOURNEY_COLUMNS, changes.closed)
    insert_rows(conn, "journeys", JOURNEY_COLUMNS, changes.changed, order="boarding_id",
                tail=JOURNEY_UPSERT)
    if changes.reopened:
        conn.execute(sa.text("DELETE FROM journeys WHERE boarding_id = :id"),
                     [{"id": boarding} for boarding, _ in sorted(changes.reopened)])
    rollups.add_od(conn, changes.od().items())
    clones.raise_alerts(conn, suspects, now_ms=now_ms)
    out.journeys_closed = len(changes.closed)
    out.journeys_changed = len(changes.changed) + len(changes.reopened)
    out.alerts = len(suspects)


def _accepted(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.accepted and row.pass_id]


def _reach(accepted: Sequence[Row], limits: Limits) -> tuple[int, int]:
    """The scan times whose scans can pair with, or be a clone of, one of ``accepted``."""
    reach = max(limits.max_journey_ms, limits.clone_window_ms)
    return min(r.at_ms for r in accepted) - reach, max(r.at_ms for r in accepted) + reach


SCAN_COLUMNS = ("pass_id, vehicle, at_ms, CASE WHEN mode = 'board' THEN 0 ELSE 1 END, id, "
                "route, stop")  # pairing.Scan


def _context(conn, pass_ids, lo: int, hi: int, postgres: bool) -> list[pairing.Scan]:
    """Every accepted scan stored of the passes within [lo, hi], in no order."""
    rows = fetch(conn,
                 f"SELECT {SCAN_COLUMNS} FROM trips t "
                 f"WHERE {_in_list('t.pass_id', postgres, 'pass_ids')} "
                 f"AND t.at_ms BETWEEN :lo AND :hi AND t.decision = 'accept'",
                 {"pass_ids": json.dumps(pass_ids), "lo": lo, "hi": hi})
    scan = pairing.Scan._make
    return [scan(row) for row in rows]


def _scan(row: Row) -> pairing.Scan:
    return pairing.Scan(row.pass_id, row.vehicle, row.at_ms, 0 if row.mode == BOARD else 1,
                        row.id, row.route, row.stop)


@dataclass
class Stored:
    """A batch paired before the lock, while another worker writes.

    Read first: the mark (what was committed so far), then the accepted scans stored of the
    batch's passes around it, and their journeys; paired with the batch's own scans (from
    memory) as if all of them were new. Under the lock, :meth:`complete` adds the scans
    committed since the mark (another worker's batch), and :meth:`under_lock` pairs again
    the passes those touched, with their journeys read again: the others' scans and
    journeys cannot have changed, since only a scan of a pass within reach of its journeys
    changes them.
    """

    pass_ids: list[str]  # the batch's passes; empty: no accepted scan
    lo: int
    hi: int
    # SQLite: the largest rowid of trips; PostgreSQL: the newest ingest_log row. Read before
    # the scans: a trip committed in between is in both reads or in this one and the one
    # under the lock; duplicates are dropped there.
    mark: int
    context: list[pairing.Scan]  # the stored scans and the batch's own, each once
    paired: Paired | None
    added: list[pairing.Scan] = field(default_factory=list)

    @classmethod
    def before_lock(cls, conn: sa.Connection, unique: list[Row], ids: set[str],
                    limits: Limits) -> Stored:
        postgres = conn.dialect.name == "postgresql"
        mark = fetch(conn, "SELECT COALESCE(MAX(seq), 0) FROM ingest_log" if postgres
                     else "SELECT COALESCE(MAX(rowid), 0) FROM trips", {})[0][0]
        accepted = _accepted(unique)
        if not accepted:
            return cls([], 0, 0, mark, [], None)
        lo, hi = _reach(accepted, limits)
        pass_ids = sorted({r.pass_id for r in accepted})
        context = _context(conn, pass_ids, lo, hi, postgres)
        # The batch's own trips are stored only if written before (a claimed batch).
        seen = {s.id for s in context}
        context += [_scan(r) for r in accepted if r.id not in seen]
        stored = cls(pass_ids, lo, hi, mark, context, None)
        stored.paired = _pair(conn, context, ids, pass_ids, lo, hi, limits)
        return stored

    def complete(self, conn: sa.Connection) -> None:
        """Under the lock: add the scans committed since the mark, and move the mark to now
        (on SQLite the batch's own rows will be those above it)."""
        if conn.dialect.name == "postgresql":
            self._complete_postgresql(conn)
            return
        raw = conn.connection.dbapi_connection
        newest = raw.execute("SELECT COALESCE(MAX(rowid), 0) FROM trips").fetchone()[0]
        if newest > self.mark and self.pass_ids:
            seen = {s.id for s in self.context}
            scan = pairing.Scan._make
            # NOT INDEXED: the rows above are the other worker's batch, read in rowid order;
            # through the pass index SQLite would look over the whole day.
            self.added = [scan(row) for row in raw.execute(
                f"SELECT {SCAN_COLUMNS} FROM trips NOT INDEXED WHERE rowid > ? "
                "AND decision = 'accept' AND at_ms BETWEEN ? AND ? "
                "AND pass_id IN (SELECT value FROM json_each(?))",
                (self.mark, self.lo, self.hi, json.dumps(self.pass_ids)))
                if row[4] not in seen]
        self.mark = newest

    def _complete_postgresql(self, conn: sa.Connection) -> None:
        """The batches committed since the mark name their passes in ``ingest_log``: the
        scans stored of ours among them are read again (the batch's own are visible to its
        own transaction, and in the context already)."""
        logged = fetch(conn, "SELECT seq, passes FROM ingest_log WHERE seq > :mark",
                       {"mark": self.mark})
        newest = max((seq for seq, _ in logged), default=self.mark)
        if logged and self.pass_ids:
            if newest - LOG_KEEP > self.mark:  # rows after the mark may be gone: read all
                touched = self.pass_ids
            else:
                theirs = set()
                for _, passes in logged:
                    theirs.update(json.loads(passes))
                touched = sorted(theirs.intersection(self.pass_ids))
            if touched:
                seen = {s.id for s in self.context}
                self.added = [s for s in _context(conn, touched, self.lo, self.hi, postgres=True)
                              if s.id not in seen]
        self.mark = newest

    def log(self, conn: sa.Connection) -> None:
        """PostgreSQL, under the lock: this batch's passes, for the batches paired
        meanwhile; rows that no batch still pairing can need are deleted."""
        if not self.pass_ids:
            return
        seq = fetch(conn, "INSERT INTO ingest_log (passes) VALUES (:passes) RETURNING seq",
                    {"passes": json.dumps(self.pass_ids)})[0][0]
        conn.exec_driver_sql("DELETE FROM ingest_log WHERE seq <= %s" % (seq - LOG_KEEP))

    def under_lock(self, conn: sa.Connection, new_ids: set[str], limits: Limits, *,
                   all_new: bool) -> Paired:
        """The batch's journeys and clones, with what was committed since the first read."""
        if not self.pass_ids:
            return pairing.Changes(), []
        if not all_new:  # a claimed batch, partly stored: pair it again whole
            return _pair(conn, self.context + self.added, new_ids, self.pass_ids,
                         self.lo, self.hi, limits)
        if not self.added:
            return self.paired
        touched = {s.pass_id for s in self.added}
        context = [s for s in self.context if s.pass_id in touched] + self.added
        changes, suspects = _pair(conn, context, new_ids, sorted(touched), self.lo, self.hi,
                                  limits)
        before, alerts = self.paired
        return (before.without(touched).plus(changes),
                [s for s in alerts if s.first.pass_id not in touched] + suspects)


def _journeys(conn, pass_ids, lo: int, hi: int,
              postgres: bool) -> dict[str, pairing.JourneyState]:
    rows = fetch(conn,
                 "SELECT boarding_id, alighting_id, destination_stop, alighted_ms FROM journeys j "
                 f"WHERE {_in_list('j.pass_id', postgres, 'pass_ids')} "
                 "AND j.boarded_ms BETWEEN :lo AND :hi",
                 {"pass_ids": json.dumps(pass_ids), "lo": lo, "hi": hi})
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
        offset = mine[len(mine) // 2] if mine else None
        if offset is not None:  # a phone signs any time it likes; a 32-bit column, and the
            # binary COPY on PostgreSQL stores a larger number wrapped round, silently
            offset = max(-OFFSET_MOST, min(OFFSET_MOST, offset))
        values.append((name, last.vehicle, last.route, last.at_ms, synced[name], now_ms,
                       last.stream_ms - last.at_ms, offset))
    return values
