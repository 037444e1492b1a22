"""The validator on one bus: decide on a scan, journal it, then answer.

All of the validator's state lives in its data directory::

    <data dir>/journal.db      the scans (validator.journal)
    <data dir>/trust.json      the last good trust list pulled from Redis
    <data dir>/denylist.json   the last good denylist
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from shared import ticket
from shared.trip import ACCEPT, REFUSE, Trip, new_trip_id
from validator.check import DEFAULT_FRESHNESS, DEFAULT_PASSBACK, Decision, check
from validator.journal import Journal
from validator.lists import Lists

JOURNAL_FILE = "journal.db"


@dataclass(frozen=True)
class Scan(Decision):
    """A decision, with the trip it was journaled as and its place in the journal."""

    trip: Trip | None = None
    seq: int | None = None

    def to_dict(self) -> dict:
        """What the screen (and ``POST /scan``) gets: the decision and the trip id."""
        return {**super().to_dict(), "trip_id": self.trip.id if self.trip else None}


class Validator:
    """One validator: its place in the network, its lists, its journal."""

    def __init__(self, *, validator_id: str, vehicle: str, route: str, data_dir: str | os.PathLike,
                 stop: str | None = None, freshness: int = DEFAULT_FRESHNESS,
                 passback: int = DEFAULT_PASSBACK):
        self.validator_id = validator_id
        self.vehicle = vehicle
        self.route = route
        self.stop = stop
        self.freshness = freshness
        self.passback = passback
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.lists = Lists(self.data_dir)
        self.journal = Journal(self.data_dir / JOURNAL_FILE)
        # Decide and journal as one step: two scans of one QR arriving at once (scanner and
        # HTTP) must not both be accepted because neither saw the other in the journal.
        self._scan_lock = threading.Lock()

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> "Validator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_route(self, route: str) -> None:
        self.route = route

    def set_stop(self, stop: str | None) -> None:
        self.stop = stop

    def scan(self, text: str, now: float) -> Scan:
        """Decide on a scanned QR text at Unix time ``now``; journaled before it returns."""
        with self._scan_lock:
            route, stop = self.route, self.stop
            decision = check(text, trust=self.lists.trust, denylist=self.lists.denylist,
                             route=route, vehicle=self.vehicle, now=now, history=self.journal,
                             freshness=self.freshness, passback=self.passback)
            trip = self._trip(decision, route, stop, now)
            seq = self.journal.record(trip)
        return Scan(decision.reason, decision.claims, decision.proof_at, trip=trip, seq=seq)

    def _trip(self, decision: Decision, route: str, stop: str | None, now: float) -> Trip:
        at_ms = int(now * 1000)
        claims = decision.claims
        return Trip(
            id=new_trip_id(at_ms), validator=self.validator_id, vehicle=self.vehicle,
            route=route, stop=stop, at_ms=at_ms,
            decision=ACCEPT if decision.accepted else REFUSE, reason=decision.reason,
            pass_id=claims.pid if claims else None,
            product=ticket.PRODUCT_NAMES[claims.product] if claims else None,
            category=claims.category if claims else None,
            proof_at=decision.proof_at)

    def status(self) -> dict:
        return {"validator": self.validator_id, "vehicle": self.vehicle, "route": self.route,
                "stop": self.stop, "backlog": self.journal.backlog(),
                "trust_list_size": len(self.lists.trust), "denylist_size": len(self.lists.denylist)}
