"""A street to drive along in the GPS tests: a route's stops on a straight road heading east,
the way back with its own stop ids across the road, and fixes with noise."""

from __future__ import annotations

import math
import random

from shared.stops import Direction, RouteStops, Stop

LAT0, LON0 = 21.0300, 105.8000
METRES_PER_DEGREE = 111_195.0
# Stops of direction 0, metres east of the start. C and D are 40 m apart (a stop each side
# of a crossing): the bus between them must not flap.
EAST = {"A_0": 0, "B_0": 450, "C_0": 900, "D_0": 940, "E_0": 1500}
ACROSS = 15.0  # metres: the other direction's stops, across the road


def point(east: float, north: float = 0.0) -> tuple[float, float]:
    lat = LAT0 + north / METRES_PER_DEGREE
    lon = LON0 + east / (METRES_PER_DEGREE * math.cos(math.radians(LAT0)))
    return lat, lon


def street(route: str = "32") -> RouteStops:
    outbound = [Stop(sid, sid, f"Điểm {sid[0]}", *point(m)) for sid, m in EAST.items()]
    inbound = [Stop(f"{sid[0]}_1", f"{sid[0]}_1", f"Điểm {sid[0]}", *point(m, ACROSS))
               for sid, m in reversed(EAST.items())]
    return RouteStops(route, [Direction(0, outbound), Direction(1, inbound)])


def drive(start: float, end: float, step: float, *, noise: float = 8.0, seed: int = 7,
          north: float = 0.0):
    """(metres east, lat, lon) every ``step`` metres from ``start`` to ``end``, each fix off
    by gaussian noise of ``noise`` metres (a receiver's usual error in a street)."""
    rng = random.Random(seed)
    n = int(abs(end - start) // step)
    for i in range(n + 1):
        east = start + math.copysign(step * i, end - start)
        yield east, *point(east + rng.gauss(0, noise), north + rng.gauss(0, noise))


def expected(east: float, last: str | None, direction: int = 0,
             max_distance: float = 150.0) -> str | None:
    """The stop the bus is at, driving the true position ``east`` metres: the nearest stop of
    its direction within reach, else the last one it reached."""
    name, metres = min(EAST.items(), key=lambda kv: abs(kv[1] - east))
    if abs(metres - east) > max_distance:
        return last
    return name if direction == 0 else f"{name[0]}_1"
