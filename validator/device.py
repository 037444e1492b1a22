"""The validator on one bus: decide on a scan, journal it, then answer.

All of the validator's state lives in its data directory::

    <data dir>/journal.db      the scans (validator.journal)
    <data dir>/journal.db.seen the journal's epoch and highest seq committed
    <data dir>/trust.json      the last good trust list pulled from Redis
    <data dir>/denylist.json   the last good denylist
    <data dir>/stops/<route>.json  the stops of each route it ran (validator.locate)

Where the bus is (route, stop) and which door the validator serves (boarding or alighting)
change while it runs; every trip records the values in force at its scan. The stop is set
by hand (the driver, the bus's systems, the configuration: ``stop_by`` "manual") or found
from GPS fixes along the route's stops (``stop_by`` "gps").
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from shared import reasons, ticket
from shared.i18n import N_
from shared.trip import ACCEPT, ALIGHT, BOARD, BY_GPS, BY_HAND, REFUSE, Trip, new_trip_id
from validator.check import DEFAULT_FRESHNESS, DEFAULT_PASSBACK, Decision, check
from validator.journal import Journal, JournalDamaged, StorageFull
from validator.lists import Lists
from validator.locate import DEFAULT_MAX_DISTANCE, Located, Locator
from validator.timekeeping import Clock

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.db"
MODES = (BOARD, ALIGHT)
STORAGE_OK, STORAGE_FULL, STORAGE_ERROR, STORAGE_DAMAGED = "ok", "full", "error", "damaged"
# The device refusal for each storage state but "ok" (shared.reasons.DEVICE_MESSAGES).
STORAGE_REASONS = {STORAGE_FULL: "storage_full", STORAGE_ERROR: "storage_error",
                   STORAGE_DAMAGED: "journal_damaged"}
# An accepted alighting must not say "welcome aboard" (in every language, as reasons.message).
ALIGHT_OK_MESSAGE = reasons.said(N_("Valid. See you again"))


@dataclass(frozen=True)
class Scan(Decision):
    """A decision, with the trip it was journaled as and its place in the journal.

    ``trip`` and ``seq`` are None when the journal could not take the scan: the reason is
    then a device refusal (``storage_full``, ``storage_error``, ``journal_damaged``), never
    an acceptance.
    """

    trip: Trip | None = None
    seq: int | None = None
    mode: str = BOARD

    def to_dict(self) -> dict:
        """What the screen (and ``POST /scan``) gets: the decision and the trip id."""
        out = {**super().to_dict(), "trip_id": self.trip.id if self.trip else None,
               "mode": self.mode}
        if self.accepted and self.mode == ALIGHT:
            out["message"] = dict(ALIGHT_OK_MESSAGE)
        return out


class Changes:
    """A counter bumped on every change the screen shows; waiters wake on the next bump."""

    def __init__(self):
        self._cond = threading.Condition()
        self.version = 0

    def bump(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> int:
        """Block until the version passes ``after`` or ``timeout`` seconds; the version."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != after, timeout)
            return self.version


class NoStops(Exception):
    """A GPS fix on a route whose stops the validator does not hold (yet)."""


class Validator:
    """One validator: its place in the network, its lists, its journal."""

    def __init__(self, *, validator_id: str, vehicle: str, route: str, data_dir: str | os.PathLike,
                 stop: str | None = None, freshness: int = DEFAULT_FRESHNESS,
                 passback: int = DEFAULT_PASSBACK, mode: str = BOARD,
                 company: str | None = None, journal_max_bytes: int | None = None,
                 clock: Clock | None = None, max_stop_distance: float = DEFAULT_MAX_DISTANCE):
        if mode not in MODES:
            raise ValueError(f"mode must be {' or '.join(MODES)}, got {mode!r}")
        self.validator_id = validator_id
        self.vehicle = vehicle
        self.company = company
        self.route = route
        self.stop = stop
        self.stop_by = BY_HAND if stop is not None else None
        self.max_stop_distance = max_stop_distance
        self._locator: Locator | None = None
        self._located: str | None = None  # the locator's last stop: a new one replaces the stop
        self.mode = mode
        self.freshness = freshness
        self.passback = passback
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._dir_lock = lock_data_dir(self.data_dir)
        try:
            self.lists = Lists(self.data_dir)
            self.journal = Journal(self.data_dir / JOURNAL_FILE, max_bytes=journal_max_bytes)
        except BaseException:
            os.close(self._dir_lock)
            raise
        self._storage = STORAGE_OK
        # The time scans are judged by: the device clock, corrected once Redis tells the
        # network's time (validator.timekeeping). Callers with a fixed ``now`` pass their own.
        self.clock = clock or Clock()
        self.changes = Changes()
        self.last_scan: tuple[int, float, Scan] | None = None  # (number, scan time, scan)
        self._scans = 0
        self.scans_by_reason: collections.Counter[str] = collections.Counter()  # /metrics
        # Decide and journal as one step: two scans of one QR arriving at once (scanner and
        # HTTP) must not both be accepted because neither saw the other in the journal.
        self._scan_lock = threading.Lock()

    def close(self) -> None:
        """Close the journal and let go of the data directory; twice is once."""
        if self._dir_lock is None:
            return
        try:
            self.journal.close()
        finally:
            os.close(self._dir_lock)
            self._dir_lock = None

    @property
    def storage(self) -> str:
        """Whether the journal takes scans: "ok", "full", "error", or "damaged" (for good:
        an operator repairs it, validator.journal.repair)."""
        return STORAGE_DAMAGED if self.journal.damage is not None else self._storage

    def backlog(self) -> int | None:
        """Scans not yet in Redis; None when the journal is too damaged to tell."""
        try:
            return self.journal.backlog()
        except JournalDamaged:
            return None

    def __enter__(self) -> "Validator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- where the bus is ------------------------------------------------------------------

    def set_position(self, route: str, stop: str | None) -> None:
        """Route and stop together: no scan sees the new route with the old stop. A stop set
        this way is "manual"; it holds until the GPS finds the bus at another stop."""
        with self._scan_lock:
            if route != self.route:
                self._locator, self._located = None, None
            self.route, self.stop = route, stop
            self.stop_by = BY_HAND if stop is not None else None
        self.changes.bump()

    def locate(self, lat: float, lon: float, route: str | None = None) -> Located:
        """Take a GPS fix (on ``route`` if given, a route change first): the stop becomes
        the locator's when it finds the bus at a stop other than the last it found, so a
        driver's manual stop holds until the bus reaches the next one. NoStops if the route's
        stops are not known here, and then nothing changes."""
        route = self.route if route is None else route
        stops = self.lists.stops(route)
        if stops is None:
            raise NoStops(f"no stops known for route {route!r}: they come from Redis with "
                          "the trust list (vexe network import, vexe publish)")
        with self._scan_lock:
            if route != self.route:
                self.route, self.stop, self.stop_by = route, None, None
                self._locator, self._located = None, None
            if self._locator is None or self._locator.stops is not stops:
                self._locator = Locator(stops, max_distance=self.max_stop_distance)
                self._located = None
            located = self._locator.fix(lat, lon)
            changed = located.stop is not None and located.stop != self._located
            if changed:
                self.stop, self.stop_by, self._located = located.stop, BY_GPS, located.stop
        if changed:
            self.changes.bump()
        return located

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be {' or '.join(MODES)}, got {mode!r}")
        with self._scan_lock:
            self.mode = mode
        self.changes.bump()

    # -- scanning --------------------------------------------------------------------------

    def scan(self, text: str, now: float) -> Scan:
        """Decide on a scanned QR text at Unix time ``now``; journaled before it returns.

        A scan the journal cannot take is refused (``storage_full`` or ``storage_error``),
        whatever the QR: nothing is accepted that a power cut could lose.
        """
        with self._scan_lock:
            route, stop, mode = self.route, self.stop, self.mode
            stop_by = self.stop_by if stop is not None else None
            decision = None
            try:
                # A journal that lost its WAL, or is damaged, is found before the decision:
                # replay and passback are looked up in it.
                self.journal.keep_wal()
                decision = check(text, trust=self.lists.trust, denylist=self.lists.denylist,
                                 route=route, vehicle=self.vehicle, now=now,
                                 history=self.journal, freshness=self.freshness,
                                 passback=self.passback if mode == BOARD else 0)
                trip = self._trip(decision, route, stop, stop_by, mode, now)
                seq = self.journal.record(trip)
            except JournalDamaged as exc:
                scan = self._unjournaled(decision, mode, STORAGE_DAMAGED, exc)
            except StorageFull as exc:
                scan = self._unjournaled(decision, mode, STORAGE_FULL, exc)
            except sqlite3.Error as exc:
                scan = self._unjournaled(decision, mode, STORAGE_ERROR, exc)
            else:
                if self._storage != STORAGE_OK:
                    log.warning("the journal takes scans again")
                self._storage = STORAGE_OK
                scan = Scan(decision.reason, decision.claims, decision.proof_at, trip=trip,
                            seq=seq, mode=mode)
            self._scans += 1
            self.scans_by_reason[scan.reason] += 1
            self.last_scan = (self._scans, now, scan)
        self.changes.bump()
        return scan

    def _unjournaled(self, decision: Decision | None, mode: str, storage: str,
                     exc: Exception) -> Scan:
        """A device refusal, with the pass if it was decided on before the journal failed."""
        if storage == STORAGE_DAMAGED:
            if self._storage != STORAGE_DAMAGED:
                log.error("%s; refusing every scan until it is repaired: stop the validator "
                          "and run `vexe validator journal repair`", exc)
        elif self._storage != storage:
            log.error("journal cannot take scans (%s); refusing every scan until it can", exc)
        self._storage = storage
        if decision is None:
            return Scan(STORAGE_REASONS[storage], mode=mode)
        return Scan(STORAGE_REASONS[storage], decision.claims, decision.proof_at, mode=mode)

    def _trip(self, decision: Decision, route: str, stop: str | None, stop_by: str | None,
              mode: str, now: float) -> Trip:
        at_ms = int(now * 1000)
        claims = decision.claims
        return Trip(
            id=new_trip_id(at_ms), validator=self.validator_id, vehicle=self.vehicle,
            route=route, stop=stop, at_ms=at_ms,
            decision=ACCEPT if decision.accepted else REFUSE, reason=decision.reason,
            pass_id=claims.pid if claims else None,
            product=ticket.PRODUCT_NAMES[claims.product] if claims else None,
            category=claims.category if claims else None,
            proof_at=decision.proof_at, mode=mode, company=self.company, stop_by=stop_by)

    # -- upkeep ----------------------------------------------------------------------------

    def recover_storage(self, now: float) -> bool:
        """After a full journal: make room and see whether it takes scans again.

        Gives up pushed scans older than what replay and passback still need (retention is
        for audits; taking riders comes first), then tries a small write. True if the
        journal takes scans now.
        """
        if self.storage == STORAGE_OK:
            return True
        if self.storage == STORAGE_DAMAGED:
            return False  # a small write may well succeed: it proves nothing here
        needed = max(self.passback, 2 * self.freshness) + 60
        try:
            freed = self.journal.prune(int((now - needed) * 1000))
        except sqlite3.Error as exc:
            log.debug("prune during recovery failed: %s", exc)
            freed = 0
        if freed:
            log.warning("journal full: dropped %d scans already in Redis to make room", freed)
        if not self.journal.writable():
            return False
        log.warning("the journal takes scans again")
        self._storage = STORAGE_OK
        self.changes.bump()
        return True

    def look_after_journal(self) -> None:
        """Upkeep between scans: a WAL deleted with no scan coming is found and its scans
        kept, and the journal notes what it has committed. Never raises."""
        try:
            with self._scan_lock:
                self.journal.keep_wal()
            self.journal.note_seen()
        except JournalDamaged as exc:
            with self._scan_lock:
                self._unjournaled(None, self.mode, STORAGE_DAMAGED, exc)
            self.changes.bump()
        except (sqlite3.Error, OSError) as exc:
            log.warning("journal upkeep failed: %s", exc)

    def status(self) -> dict:
        return {"validator": self.validator_id, "vehicle": self.vehicle, "company": self.company,
                "route": self.route, "stop": self.stop, "stop_by": self.stop_by,
                "mode": self.mode,
                "stops_known": self._stops_known(),
                "storage": self.storage, "backlog": self.backlog(),
                "trust_list_size": len(self.lists.trust), "denylist_size": len(self.lists.denylist),
                **self.clock.status()}


    def _stops_known(self) -> int:
        """How many stops of its route the validator holds (0: it cannot locate itself)."""
        stops = self.lists.stops(self.route)
        return sum(len(d.stops) for d in stops.directions) if stops is not None else 0


class DataDirInUse(Exception):
    """Another process (a validator, a repair) uses this data directory."""


def lock_data_dir(path: Path) -> int:
    """Hold the data directory for this process (a lock the kernel drops when it ends)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(f"{path} is in use by another validator process") from None
    return fd
