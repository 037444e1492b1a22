"""Journeys: a boarding closed by the pass's alighting scan on the same vehicle.

The pairing is a function of the set of scans, never of the order they arrive in: front and
rear validators of one bus push on their own, and a validator back from hours offline
pushes its whole backlog at once. For one pass on one vehicle, in time order, a boarding is
closed by the first alighting after it and before the pass's next boarding on that vehicle,
within ``max_journey_ms``. An alighting with no such boarding closes nothing; a boarding
with no alighting stays open.

A journey is stored when it is closed: an accepted boarding with no journey row is open
(the open ones are counted as the boardings less the closed journeys). Most boardings are
never written twice this way: the alighting that closes one writes it once.

When a scan arrives, only boardings within ``max_journey_ms`` before it can change: those
are recomputed from the scans around them and written when they differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from issuer.ridership.buckets import day_of
from shared.trip import BOARD

MAX_JOURNEY_MS = 4 * 3600 * 1000  # longer than any Hanoi route end to end


class Scan(NamedTuple):
    """An accepted scan of a pass: what pairing and clone checks need. A tuple: a batch
    reads tens of thousands of them back."""

    id: str
    pass_id: str
    vehicle: str
    route: str
    stop: str | None
    at_ms: int
    mode: str

    @property
    def order(self) -> tuple:
        # At the same millisecond a boarding comes first: it may be closed by that alighting.
        return (self.at_ms, 0 if self.mode == BOARD else 1, self.id)


ORDER = Scan.order.fget  # the sort key, without a lambda around the property


def context_key(scan: Scan) -> tuple:
    """How ``plan`` and ``clones.detect`` take their scans: by pass, vehicle, then ORDER."""
    return (scan.pass_id, scan.vehicle, scan.at_ms, 0 if scan.mode == BOARD else 1, scan.id)


PASS = itemgetter(1)
PASS_AND_VEHICLE = itemgetter(1, 2)


class JourneyState(NamedTuple):
    """What a journey row holds that pairing decides."""

    alighting_id: str | None
    destination_stop: str | None
    alighted_ms: int | None


OPEN = JourneyState(None, None, None)


def pair(scans: Iterable[Scan], max_journey_ms: int = MAX_JOURNEY_MS) -> dict[str, JourneyState]:
    """Each boarding's state, for the scans of one pass on one vehicle."""
    return _pair_in_order(sorted(scans, key=ORDER), max_journey_ms)


def _pair_in_order(scans: list[Scan], max_journey_ms: int) -> dict[str, JourneyState]:
    out: dict[str, JourneyState] = {}
    current: Scan | None = None
    for scan in scans:
        if scan.mode == BOARD:
            current = scan
            out[scan.id] = OPEN
        elif current is not None and out[current.id] is OPEN \
                and scan.at_ms - current.at_ms <= max_journey_ms:
            out[current.id] = JourneyState(scan.id, scan.stop or "", scan.at_ms)
    return out


@dataclass
class Changes:
    # Journey rows (boarding_id, pass_id, vehicle, route, day, origin_stop, boarded_ms,
    # alighting_id, destination_stop, alighted_ms) closed now, or closed by another alighting.
    closed: list[tuple]
    changed: list[tuple]
    reopened: list[str]  # boardings whose alighting turned out to be a later boarding's
    od: Counter  # (day, route, origin, destination) -> journeys to add (may be negative)


def plan(context: Iterable[Scan], new_ids: set[str], existing: dict[str, JourneyState],
         max_journey_ms: int = MAX_JOURNEY_MS) -> Changes:
    """What to write for the boardings the new scans can affect.

    ``context``: every accepted scan of the passes concerned within ``max_journey_ms`` of a
    new scan (the new ones included), sorted by ``context_key``; ``existing``: the closed
    journeys stored for those boardings.
    """
    changes = Changes([], [], [], Counter())
    # A batch has tens of thousands of groups of one to three scans: each is a run of the
    # sorted context, cut out in C.
    for _, group in groupby(context, key=PASS_AND_VEHICLE):
        scans = list(group)
        fresh = [s.at_ms for s in scans if s.id in new_ids]
        if not fresh:
            continue
        lo, hi = min(fresh) - max_journey_ms, max(fresh)
        states = _pair_in_order(scans, max_journey_ms)
        for scan in scans:
            if scan.mode != BOARD or not lo <= scan.at_ms <= hi:
                continue
            _plan_one(scan, states[scan.id], existing.get(scan.id), changes)
    return changes


def _plan_one(boarding: Scan, state: JourneyState, old: JourneyState | None,
              changes: Changes) -> None:
    old = old or OPEN
    if old == state:
        return
    day, route, origin = day_of(boarding.at_ms), boarding.route, boarding.stop or ""
    if old is not OPEN:
        changes.od[(day, route, origin, old.destination_stop)] -= 1
    if state is OPEN:
        changes.reopened.append(boarding.id)
        return
    changes.od[(day, route, origin, state.destination_stop)] += 1
    row = (boarding.id, boarding.pass_id, boarding.vehicle, route, day, origin, boarding.at_ms,
           state.alighting_id, state.destination_stop, state.alighted_ms)
    (changes.closed if old is OPEN else changes.changed).append(row)
