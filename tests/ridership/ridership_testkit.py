"""Trips as validators make them, for tests: ids minted like a validator's, times given."""

from __future__ import annotations

import itertools
import time

from backoffice import buckets
from shared import clock
from shared.trip import ACCEPT, ALIGHT, BOARD, REFUSE, Trip

T0 = 1_795_136_400_000  # 2026-11-20 05:00 Hanoi time (a Friday), in ms


class TripMaker:
    def __init__(self):
        self._seq = itertools.count()

    def trip(self, *, at_ms: int = T0, pass_id: str | None = "P000000001",
             vehicle: str = "29B-100.01", route: str = "32", stop: str | None = "S01",
             mode: str = BOARD, decision: str = ACCEPT, reason: str = "ok",
             product: str | None = "multi", category: str | None = None,
             validator: str | None = None, proof_at: int | None = None) -> Trip:
        n = next(self._seq)
        return Trip(id=f"{at_ms:012x}{n:08x}",
                    validator=validator or f"V-{vehicle}-{'front' if mode == BOARD else 'rear'}",
                    vehicle=vehicle, route=route, stop=stop, at_ms=at_ms, decision=decision,
                    reason=reason, pass_id=pass_id, product=product, category=category,
                    proof_at=at_ms // 1000 if proof_at is None else proof_at, mode=mode)

    def board(self, **kw) -> Trip:
        return self.trip(mode=BOARD, **kw)

    def alight(self, **kw) -> Trip:
        return self.trip(mode=ALIGHT, **kw)

    def refused(self, reason: str = "expired", **kw) -> Trip:
        return self.trip(decision=REFUSE, reason=reason, **kw)


def today_with_room(room_ms: int) -> int:
    """The start of today in Hanoi (Unix seconds) once ``room_ms`` of it has passed: a trip
    seeded "today" is never in the future, which the ingest refuses (a bus sends what it
    scanned). Just after midnight, this waits for the day to have the room."""
    while True:
        now = clock.now()
        today = buckets.day_start(buckets.today(now))
        short = (today * 1000 + room_ms) / 1000 - now
        if short <= 0:
            return today
        time.sleep(short + 0.1)
