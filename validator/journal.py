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

A journal that cannot be trusted is said so, never guessed around: a damaged file (SQLite
finds a page or an index malformed: checked whole at opening, and at every use) raises
:class:`JournalDamaged`, and so does a journal that lost scans it had committed. Two
things find the second. The WAL file is checked before every scan (its device and inode,
one ``stat``): deleted under the open connection, its committed scans are still in the
connection's open file, so they are checkpointed into the journal through it and a new WAL
opened. And ``journal.db.seen``, a small file beside the journal, holds its epoch and
highest ``seq``, rewritten after scans are committed (:meth:`Journal.note_seen`): a journal
opened behind it lost the end of its WAL. :func:`repair` is what an operator runs then.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

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

# A write that needs more new pages than any one scan: a scan may split a leaf of the scans
# table and of each of its two indexes at once (3 pages, and their parents rarely), so a
# journal that takes the probe takes the next scan. (One page was too few: a journal full
# by one page let the probe in and refused the scan after it.)
PROBE_BYTES = 4 * 4096

# The WAL is cut back to this after a checkpoint: without a limit it keeps its largest size.
WAL_SIZE_LIMIT = 1024 * 1024


log = logging.getLogger(__name__)

SEEN_SUFFIX = ".seen"  # journal.db.seen: the epoch and highest seq committed


class StorageFull(Exception):
    """The journal could not take a scan: its file system, or its size cap, is full."""


class JournalDamaged(Exception):
    """The journal cannot be trusted: its file is damaged, or it lost committed scans."""


class Journal:
    """The scans of one validator, in a SQLite file.

    One connection guarded by a lock: the HTTP server, the scanner's input and the sync
    thread share one journal, and SQLite serialises writers anyway.
    """

    def __init__(self, path: str | PathLike, *, max_bytes: int | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self.damage: str | None = None  # why the journal cannot be trusted, once found
        self._lock = threading.Lock()
        self._seen: tuple[str, int] | None = None  # what journal.db.seen says now
        self._closed = False
        self._db = self._connect()
        try:
            with self._errors():
                problems = _problems(self._db, "quick_check")
                if problems:
                    self.damage = f"journal {self.path} is damaged: {problems}"
                    raise JournalDamaged(self.damage)
                self._db.executescript(_SCHEMA)
                self._upgrade()
                # One statement, one transaction: a new journal gets both rows or neither.
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?), "
                                 "('pushed_seq', '0')", (secrets.token_hex(8),))
                self.epoch = self._meta("epoch")
                self._check_seen()
            self._wal = _identity(self._wal_path)
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: each statement is its own transaction unless BEGIN says otherwise.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            # Before any table exists, so a new file is created with it; see _upgrade.
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            if self.max_bytes is not None:
                page = db.execute("PRAGMA page_size").fetchone()[0]
                # SQLite never lowers the cap below the file's current size.
                db.execute(f"PRAGMA max_page_count={max(1, int(self.max_bytes) // page)}")
        except BaseException as exc:
            db.close()
            if isinstance(exc, sqlite3.DatabaseError) and _is_damage(exc):
                raise JournalDamaged(f"journal {self.path} is damaged: {exc}") from None
            raise
        return db

    @property
    def _wal_path(self) -> str:
        return f"{os.fspath(self.path)}-wal"

    @property
    def _seen_path(self) -> Path:
        return Path(f"{os.fspath(self.path)}{SEEN_SUFFIX}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.damage is None:
            try:
                self.note_seen()
            except (JournalDamaged, sqlite3.Error, OSError) as exc:
                log.warning("journal %s: %s not written: %s", self.path, self._seen_path, exc)
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

    @contextmanager
    def _errors(self):
        """SQLite's errors as the validator acts on them: a full disk or cap is StorageFull,
        a malformed file JournalDamaged (and remembered: it does not heal by itself)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise StorageFull(str(exc)) from None
            if not _is_damage(exc):
                raise
            self.damage = f"journal {self.path} is damaged: {exc}"
            raise JournalDamaged(self.damage) from None

    # -- what it has committed, and its WAL ------------------------------------------------

    def _top_seq(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'scans'").fetchone()
        return 0 if row is None else int(row[0])

    def _check_seen(self) -> None:
        """Refuse a journal behind what it is known to have committed (its WAL lost)."""
        try:
            seen = json.loads(self._seen_path.read_text())
            epoch, seq = str(seen["epoch"]), int(seen["seq"])
        except FileNotFoundError:
            return  # a new journal, or one from before the file existed
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("journal %s: ignoring %s: %s", self.path, self._seen_path, exc)
            return
        top = self._top_seq()
        if epoch != self.epoch or seq > top:
            self.damage = (f"journal {self.path} lost committed scans (its WAL file was lost): "
                           f"it holds scans up to seq {top} of journal {self.epoch}, but scans "
                           f"up to seq {seq} of journal {epoch} were committed")
            raise JournalDamaged(self.damage)
        self._seen = epoch, seq

    def note_seen(self) -> None:
        """Write the epoch and highest seq committed to journal.db.seen, if they moved.

        Written after the scans are committed (and synced): it can lag the journal after a
        power cut, never lead it. Replaced whole, so it is never read half written."""
        with self._lock, self._errors():
            now = self.epoch, self._top_seq()
        if now == self._seen:
            return
        temporary = self._seen_path.with_name(self._seen_path.name + ".tmp")
        temporary.write_text(json.dumps({"epoch": now[0], "seq": now[1]}))
        os.replace(temporary, self._seen_path)
        self._seen = now

    def keep_wal(self) -> None:
        """Before a scan: if the WAL file was deleted (or replaced) under the open connection,
        copy what it holds into the journal through the connection, then open a new one.

        JournalDamaged when that fails: then nothing may be accepted until an operator has
        looked. One ``stat`` when the WAL is there."""
        if self.damage is not None:
            raise JournalDamaged(self.damage)
        if _identity(self._wal_path) == self._wal:
            return
        with self._lock:
            try:
                busy, frames, copied = self._db.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy or frames != copied:  # (0, 0, 0) when all was copied
                    raise sqlite3.OperationalError(
                        f"checkpoint incomplete: {copied} of {frames} pages")
                self._db.close()
                self._db = self._connect()
                self._wal = _identity(self._wal_path)
            except (sqlite3.Error, JournalDamaged) as exc:
                self.damage = (f"journal {self.path} lost its WAL file and its scans could not "
                               f"be kept: {exc}")
                raise JournalDamaged(self.damage) from None
        log.warning("journal %s: its WAL file was deleted; the scans it held are now in the "
                    "journal, and a new WAL is open", self.path)

    # -- writing ---------------------------------------------------------------------------

    def record(self, trip: Trip) -> int:
        """Store one scan durably (one committed transaction) and return its ``seq``.

        StorageFull when the disk or the size cap leaves no room: nothing was stored.
        """
        with self._lock, self._errors():
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
        with self._lock, self._errors():
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
        with self._lock, self._errors():
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
        with self._lock, self._errors():
            row = self._db.execute(
                "SELECT 1 FROM scans WHERE pass_id = ? AND proof_at = ? AND decision = ? LIMIT 1",
                (pass_id, proof_at, ACCEPT)).fetchone()
        return row is not None

    def accepted_since(self, pass_id: str, vehicle: str, since_ms: int) -> bool:
        # Boardings only: passback is a pass getting on twice; its alighting scans don't count.
        with self._lock, self._errors():
            row = self._db.execute(
                "SELECT 1 FROM scans WHERE pass_id = ? AND at_ms >= ? AND vehicle = ?"
                " AND decision = ? AND mode = ? LIMIT 1",
                (pass_id, since_ms, vehicle, ACCEPT, BOARD)).fetchone()
        return row is not None


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # an extended code: the primary in its low byte
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _problems(db: sqlite3.Connection, check: str = "integrity_check") -> str | None:
    """What SQLite's integrity check finds wrong, in a line; None when the file is sound."""
    rows = [row[0] for row in db.execute(f"PRAGMA {check}")]
    return None if rows == ["ok"] else " ".join(" ".join(rows[:3]).split())


# -- vexe validator journal repair ----------------------------------------------------------

def repair(path: str | PathLike) -> dict:
    """Make a journal the validator can trust again; the validator must be stopped.

    In order, the first that works: a sound journal that lost the end of its WAL gets a new
    epoch (so Redis, which holds its lost scans under the old one, takes the next ones); a
    damaged index is rebuilt (``REINDEX``); the tables are copied into a new file (an index
    too broken to rebuild in place); else the file is moved aside. A replaced file is kept
    beside it as ``journal.db.damaged-<UTC time>``, for audit. What was done, as a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no journal at {path}")
    outcome: dict = {"journal": str(path)}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        outcome["problems"] = problems = _problems_or_error(db)
        if problems is None:
            outcome["done"] = _renew_epoch_if_behind(db, path)
        else:
            db.execute("REINDEX")
            if _problems(db) is not None:
                raise sqlite3.DatabaseError("still damaged after REINDEX")
            outcome["done"] = "reindexed"
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.DatabaseError:
        db.close()
        outcome.update(_replace(path))
    else:
        db.close()
    with Journal(path) as journal:  # opens clean, and notes what it now holds
        outcome["epoch"], outcome["scans"] = journal.epoch, len(journal)
        outcome["unsent"] = journal.backlog()
    return outcome


def _problems_or_error(db: sqlite3.Connection) -> str | None:
    try:
        return _problems(db)
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _renew_epoch_if_behind(db: sqlite3.Connection, path: Path) -> str:
    """For a sound journal: "new epoch" if it is behind its journal.db.seen, else "nothing"."""
    seen_path = Path(f"{path}{SEEN_SUFFIX}")
    try:
        seen = json.loads(seen_path.read_text())
    except (OSError, ValueError):
        return "nothing"
    epoch = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    top = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'scans'").fetchone()
    if epoch is not None and seen.get("epoch") == epoch[0] and seen.get("seq", 0) <= (
            top[0] if top else 0):
        return "nothing"
    # Scans up to pushed_seq went to Redis under the old epoch; the rest go under the new.
    db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (secrets.token_hex(8),))
    seen_path.unlink()
    return "new epoch"


def _replace(path: Path) -> dict:
    """Move a damaged journal aside, and put in its place a copy of what can be read."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    copy = path.with_name(f"{path.name}.rebuilt")
    copy.unlink(missing_ok=True)
    done = "moved aside"
    try:
        with Journal(copy) as fresh:
            fresh._db.execute("ATTACH DATABASE ? AS old", (os.fspath(path),))
            fresh._db.executescript(
                "BEGIN; DELETE FROM meta;"
                # ORDER BY: not SQLite's whole-table transfer, which copies the old index.
                " INSERT INTO scans SELECT * FROM old.scans ORDER BY seq;"
                " INSERT INTO meta SELECT * FROM old.meta;"
                " UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM old.sqlite_sequence"
                "   WHERE name = 'scans')) WHERE name = 'scans';"
                " COMMIT;")
            fresh._db.execute("DETACH DATABASE old")
        done = "copied into a new file"
    except (sqlite3.Error, JournalDamaged):
        copy.unlink(missing_ok=True)
    Path(f"{copy}{SEEN_SUFFIX}").unlink(missing_ok=True)  # noted under the copy's first epoch
    for suffix in ("", "-wal", "-shm", SEEN_SUFFIX):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    if copy.exists():
        os.replace(copy, path)
    return {"done": done, "kept_as": str(aside)}


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
