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
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from backoffice.buckets import day_of

MAX_JOURNEY_MS = 4 * 3600 * 1000  # longer than any Hanoi route end to end


class Scan(NamedTuple):
    """An accepted scan of a pass: what pairing and clone checks need. A tuple: a batch
    reads tens of thousands of them back. The fields start with the order ``plan`` and
    ``clones.detect`` take scans in (by pass, vehicle, time, a boarding before an alighting
    at the same millisecond, id), so a list of them sorts into it as plain tuples, in C."""

    pass_id: str
    vehicle: str
    at_ms: int
    alighting: int  # 0 for a boarding, 1 for an alighting: it may close that boarding
    id: str
    route: str
    stop: str | None


ORDER = itemgetter(2, 3, 4)  # one pass on one vehicle: time, boarding first, id
PASS = itemgetter(0)
PASS_AND_VEHICLE = itemgetter(0, 1)


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
        if not scan.alighting:
            current = scan
            out[scan.id] = OPEN
        elif current is not None and out[current.id] is OPEN \
                and scan.at_ms - current.at_ms <= max_journey_ms:
            out[current.id] = JourneyState(scan.id, scan.stop or "", scan.at_ms)
    return out


@dataclass
class Changes:
    """What pairing decided: journey rows (boarding_id, pass_id, vehicle, route, day,
    origin_stop, boarded_ms, alighting_id, destination_stop, alighted_ms) closed now, or
    closed by another alighting than the one stored; boardings open again; and where the
    journeys changed or open again had been counted. Every entry names its pass, so the
    decisions about some passes can be taken out and planned again (``without``, ``plus``)."""

    closed: list[tuple] = field(default_factory=list)
    changed: list[tuple] = field(default_factory=list)
    reopened: list[tuple[str, str]] = field(default_factory=list)  # (boarding_id, pass_id)
    # (pass_id, day, route, origin, destination) of the journeys changed or open again.
    uncounted: list[tuple] = field(default_factory=list)

    def od(self) -> Counter:
        """(day, route, origin, destination) -> journeys to add (negative for one moved)."""
        out = Counter((r[4], r[3], r[5], r[8]) for r in self.closed)
        out.update((r[4], r[3], r[5], r[8]) for r in self.changed)
        out.subtract(r[1:] for r in self.uncounted)
        return out

    def without(self, passes: set[str]) -> Changes:
        """These changes, but none about ``passes``."""
        return Changes([r for r in self.closed if r[1] not in passes],
                       [r for r in self.changed if r[1] not in passes],
                       [r for r in self.reopened if r[1] not in passes],
                       [r for r in self.uncounted if r[0] not in passes])

    def plus(self, other: Changes) -> Changes:
        return Changes(self.closed + other.closed, self.changed + other.changed,
                       self.reopened + other.reopened, self.uncounted + other.uncounted)


def plan(context: Iterable[Scan], new_ids: set[str], existing: dict[str, JourneyState],
         max_journey_ms: int = MAX_JOURNEY_MS) -> Changes:
    """What to write for the boardings the new scans can affect.

    ``context``: every accepted scan of the passes concerned within ``max_journey_ms`` of a
    new scan (the new ones included), sorted (see ``Scan``); ``existing``: the closed
    journeys stored for those boardings.
    """
    changes = Changes()
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
            if scan.alighting or not lo <= scan.at_ms <= hi:
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
        changes.uncounted.append((boarding.pass_id, day, route, origin, old.destination_stop))
    if state is OPEN:
        changes.reopened.append((boarding.id, boarding.pass_id))
        return
    row = (boarding.id, boarding.pass_id, boarding.vehicle, route, day, origin, boarding.at_ms,
           state.alighting_id, state.destination_stop, state.alighted_ms)
    (changes.closed if old is OPEN else changes.changed).append(row)
