"""The validator's journal: every scan, accepted or not, on disk before its answer is shown.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on stable storage when
:meth:`Journal.record` returns, so a power cut after the screen shows a decision loses
nothing that was shown.

A journal must never fill the disk for good: :meth:`Journal.prune` deletes scans that are in
Redis and past retention, then gives the pages back to the file system (incremental vacuum)
and truncates the WAL. ``max_bytes`` caps the file so the journal hits its own limit, and
the validator refuses to accept, before the device's disk fills.

Each scan gets ``seq``, a sequence number that never goes back (AUTOINCREMENT never reuses
a number, even after rows are deleted). The sync pushes scans in ``seq`` order and Redis keeps,
per validator journal, the highest ``seq`` it holds: that is the push's idempotency key. The
journal's ``epoch``, a random id made when the file is created, keeps a replaced journal
(a new disk, a wiped device) from being mistaken for the old one and its numbers skipped.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from os import PathLike

from shared.trip import ACCEPT, BOARD, Trip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    trip_id  TEXT NOT NULL UNIQUE,
    pass_id  TEXT,
    proof_at INTEGER,
    vehicle  TEXT NOT NULL,
    decision TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    payload  TEXT NOT NULL,
    mode     TEXT NOT NULL DEFAULT 'board'
);
CREATE INDEX IF NOT EXISTS scans_pass_at ON scans (pass_id, at_ms);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (data BLOB);
"""

PROBE_BYTES = 4096  # a write the size of a few scans: it needs pages of its own

# The WAL is cut back to this after a checkpoint: without a limit it keeps its largest size.
WAL_SIZE_LIMIT = 1024 * 1024


class StorageFull(Exception):
    """The journal could not take a scan: its file system, or its size cap, is full."""


class Journal:
    """The scans of one validator, in a SQLite file.

    One connection guarded by a lock: the HTTP server, the scanner's input and the sync
    thread share one journal, and SQLite serialises writers anyway.
    """

    def __init__(self, path: str | PathLike, *, max_bytes: int | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # Autocommit mode: each statement is its own transaction unless BEGIN says otherwise.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            # Before any table exists, so a new file is created with it; see _upgrade.
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._db.executescript(_SCHEMA)
            self._upgrade()
            if max_bytes is not None:
                page = self._db.execute("PRAGMA page_size").fetchone()[0]
                # SQLite never lowers the cap below the file's current size.
                self._db.execute(f"PRAGMA max_page_count={max(1, int(max_bytes) // page)}")
            # One statement, one transaction: a new journal gets both rows or neither.
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?), ('pushed_seq', '0')",
                             (secrets.token_hex(8),))
            self.epoch = self._meta("epoch")
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _upgrade(self) -> None:
        """Bring a journal written by an earlier version up to this one, in place."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(scans)")}
        if "mode" not in columns:  # every scan before modes existed was a boarding
            self._db.execute("ALTER TABLE scans ADD COLUMN mode TEXT NOT NULL DEFAULT 'board'")
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # A file made without incremental vacuum never gives pages back; switching needs
            # one full VACUUM, once.
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("VACUUM")

    def _meta(self, key: str) -> str:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    # -- writing ---------------------------------------------------------------------------

    def record(self, trip: Trip) -> int:
        """Store one scan durably (one committed transaction) and return its ``seq``.

        StorageFull when the disk or the size cap leaves no room: nothing was stored.
        """
        with self._lock, _full_is_storage_full():
            cursor = self._db.execute(
                "INSERT INTO scans (trip_id, pass_id, proof_at, vehicle, decision, at_ms, payload,"
                " mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (trip.id, trip.pass_id, trip.proof_at, trip.vehicle, trip.decision, trip.at_ms,
                 trip.to_json(), trip.mode))
            return cursor.lastrowid

    def writable(self) -> bool:
        """Whether a scan's worth of new pages commits now: how a full journal finds it has
        room again. Two small committed writes; only called while the journal is full."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO probe VALUES (randomblob(?))", (PROBE_BYTES,))
                self._db.execute("DELETE FROM probe")
            except sqlite3.Error:
                return False
            return True

    def mark_pushed(self, seq: int) -> None:
        """Everything up to ``seq`` is in Redis. Never moves back."""
        with self._lock:
            self._db.execute(
                "UPDATE meta SET value = CAST(MAX(CAST(value AS INTEGER), ?) AS TEXT)"
                " WHERE key = 'pushed_seq'", (int(seq),))

    def prune(self, before_ms: int) -> int:
        """Delete scans made before ``before_ms`` that are already in Redis; how many.

        Unsent scans stay whatever their age. ``seq`` still never goes back (AUTOINCREMENT).
        The freed pages go back to the file system and the WAL is cut back, so the files
        shrink rather than only stop growing.
        """
        with self._lock:
            deleted = self._db.execute(
                "DELETE FROM scans WHERE at_ms < ?"
                " AND seq <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pushed_seq')",
                (int(before_ms),)).rowcount
            if deleted:
                # Through sqlite3_exec: execute() would step the pragma once, freeing one page.
                self._db.executescript("PRAGMA incremental_vacuum;")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return deleted

    def size(self) -> int:
        """Bytes the journal's pages take (the WAL aside)."""
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            return pages * self._db.execute("PRAGMA page_size").fetchone()[0]

    # -- reading for the sync --------------------------------------------------------------

    @property
    def pushed_seq(self) -> int:
        with self._lock:
            return int(self._meta("pushed_seq"))

    def unsent(self, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` scans not yet in Redis, as (seq, trip JSON), oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, payload FROM scans"
                " WHERE seq > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pushed_seq')"
                " ORDER BY seq LIMIT ?", (limit,)).fetchall()

    def backlog(self) -> int:
        """How many scans are not yet in Redis."""
        return self.unsent_summary()[0]

    def unsent_summary(self) -> tuple[int, int | None]:
        """How many scans are not yet in Redis, and the scan time (ms) of the oldest of them
        (None when there are none): what the heartbeat reports."""
        with self._lock:
            count, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(at_ms) FROM scans"
                " WHERE seq > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pushed_seq')"
            ).fetchone()
        return count, oldest

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM scans").fetchone()[0]

    def trips(self) -> list[Trip]:
        """Every scan in the journal, in ``seq`` order."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM scans ORDER BY seq").fetchall()
        return [Trip.from_json(payload) for (payload,) in rows]

    # -- validator.check.History -----------------------------------------------------------

    def proof_used(self, pass_id: str, proof_at: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM scans WHERE pass_id = ? AND proof_at = ? AND decision = ? LIMIT 1",
                (pass_id, proof_at, ACCEPT)).fetchone()
        return row is not None

    def accepted_since(self, pass_id: str, vehicle: str, since_ms: int) -> bool:
        # Boardings only: passback is a pass getting on twice; its alighting scans don't count.
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM scans WHERE pass_id = ? AND at_ms >= ? AND vehicle = ?"
                " AND decision = ? AND mode = ? LIMIT 1",
                (pass_id, since_ms, vehicle, ACCEPT, BOARD)).fetchone()
        return row is not None


class _full_is_storage_full:
    """Turn SQLite's "database or disk is full" into StorageFull; other errors pass."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, sqlite3.OperationalError) and (
                getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL):
            raise StorageFull(str(exc)) from None
        return False

