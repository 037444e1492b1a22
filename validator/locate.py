"""Which stop the bus is at, from its GPS fixes and its route's ordered stops (shared.stops).

The stop is the nearest stop of the route, in the direction the bus travels, within
``max_distance`` metres. Between stops (none that close) it stays the last stop reached: a
rider who boarded there and scans once the bus has left is counted where they boarded.

The direction of travel comes from the last fixes: each is projected onto each direction's
line of stops, and the direction along which the bus made headway (the mean of the newer
half of the fixes ahead of the older half by ``DIRECTION_MOVE``) is the one it drives. A bus
standing still keeps its direction, so GPS noise at a stop does not flip it to the stop of
the other direction across the road; and it turns to the other direction at the end of the
line, or elsewhere once the fixes have shown it for a while (a sharp bend looks like a turn
for a few fixes).

No flapping between two close stops: the bus moves on to a stop ahead only once that stop is
nearer than the current one by ``hysteresis`` metres, and never back to a stop behind
unless the fixes put it clearly behind (more than ``max_distance`` before the current stop
along the route: a GPS that jumped, a bus that turned back).

Positions are metres on a plane tangent at the route's middle (equirectangular): within a
city the error is centimetres, and each distance is a few multiplications.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from shared.stops import RouteStops

DEFAULT_MAX_DISTANCE = 150.0  # metres from a stop for the bus to be at it
DEFAULT_HYSTERESIS = 15.0  # metres nearer a stop ahead must be before the bus moves on to it
DIRECTION_FIXES = 8  # fixes looked at to tell the direction of travel
DIRECTION_MOVE = 30.0  # metres of headway along a direction before the bus is believed on it
# Segments searched around the last fix's, before the whole line: a bus moves about a
# segment between two fixes at most (a fix a second, stops hundreds of metres apart).
WINDOW_BEHIND, WINDOW_AHEAD = 1, 2
EARTH = 6_371_000.0  # metres


@dataclass(frozen=True)
class Located:
    stop: str | None  # a GTFS stop id
    direction: int | None
    distance: float | None  # metres from the stop now


class _Line:
    """One direction's stops, in order, as points in metres and their distance along."""

    def __init__(self, direction: int, ids: list[str], xs: list[float], ys: list[float]):
        self.direction, self.ids, self.xs, self.ys = direction, ids, xs, ys
        self.along = [0.0]
        for i in range(1, len(xs)):
            self.along.append(self.along[-1] + math.hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]))
        # Each segment's vector and the inverse of its squared length, computed once.
        self.dx = [xs[i + 1] - xs[i] for i in range(len(xs) - 1)]
        self.dy = [ys[i + 1] - ys[i] for i in range(len(ys) - 1)]
        self.inv2 = [1 / (dx * dx + dy * dy) if dx or dy else 0.0
                     for dx, dy in zip(self.dx, self.dy)]
        self.last_segment: int | None = None
        self.history: deque[float] = deque(maxlen=DIRECTION_FIXES)
        self.headway = 0.0  # metres along this line over the last fixes (see note_along)

    def project(self, x: float, y: float, max_distance: float) -> tuple[float, float, int]:
        """(distance along, distance across, segment) of the nearest point of the line: near
        the segment of the last fix first, the whole line when that finds nothing close."""
        segments = len(self.xs) - 1
        if segments < 1:
            return 0.0, math.hypot(x - self.xs[0], y - self.ys[0]), 0
        if self.last_segment is not None:
            lo = max(0, self.last_segment - WINDOW_BEHIND)
            hi = min(segments, self.last_segment + WINDOW_AHEAD)
            best = self._nearest(x, y, lo, hi)
            if best[1] <= max_distance:
                return best
        return self._nearest(x, y, 0, segments)

    def _nearest(self, x: float, y: float, lo: int, hi: int) -> tuple[float, float, int]:
        xs, ys, dxs, dys, inv2 = self.xs, self.ys, self.dx, self.dy, self.inv2
        best_across, best_t, best_segment = math.inf, 0.0, lo
        for i in range(lo, hi):
            ax, ay, dx, dy = xs[i], ys[i], dxs[i], dys[i]
            t = ((x - ax) * dx + (y - ay) * dy) * inv2[i]
            if t < 0.0:
                t = 0.0
            elif t > 1.0:
                t = 1.0
            px, py = ax + t * dx - x, ay + t * dy - y
            across = px * px + py * py
            if across < best_across:
                best_across, best_t, best_segment = across, t, i
        along = self.along[best_segment] + best_t * (self.along[best_segment + 1]
                                                     - self.along[best_segment])
        return along, math.sqrt(best_across), best_segment

    def note_along(self, along: float) -> None:
        """Keep ``along`` among the last fixes and the headway they show: the mean of the
        newer half of them less the mean of the older half (noise averages out)."""
        history = self.history
        history.append(along)
        n = len(history)
        half = n // 2
        if half == 0:
            self.headway = 0.0
            return
        older = newer = 0.0
        for i in range(half):
            older += history[i]
            newer += history[n - 1 - i]
        self.headway = (newer - older) / half

    def distance(self, index: int, x: float, y: float) -> float:
        return math.hypot(x - self.xs[index], y - self.ys[index])


class Locator:
    """The stop of each fix on one route; one instance per route, fed the fixes in order."""

    def __init__(self, stops: RouteStops, *, max_distance: float = DEFAULT_MAX_DISTANCE,
                 hysteresis: float = DEFAULT_HYSTERESIS):
        self.route = stops.route
        self.stops = stops
        self.max_distance = max_distance
        self.hysteresis = hysteresis
        points = [(s.lat, s.lon) for d in stops.directions for s in d.stops]
        self._lat0 = math.radians(sum(p[0] for p in points) / len(points))
        self._lon0 = math.radians(sum(p[1] for p in points) / len(points))
        self._kx = EARTH * math.cos(self._lat0)
        self.lines = []
        for d in stops.directions:
            xy = [self.plane(s.lat, s.lon) for s in d.stops]
            self.lines.append(_Line(d.direction, [s.id for s in d.stops],
                                    [p[0] for p in xy], [p[1] for p in xy]))
        self.stop_count = len(points)
        self._line: _Line | None = None  # the direction of travel, once known
        self._index: int | None = None  # the current stop on it
        self._against = 0  # fixes in a row showing headway against the direction

    def plane(self, lat: float, lon: float) -> tuple[float, float]:
        return ((math.radians(lon) - self._lon0) * self._kx,
                (math.radians(lat) - self._lat0) * EARTH)

    def fix(self, lat: float, lon: float) -> Located:
        """Where the bus is, given a new fix (degrees, WGS 84)."""
        x, y = self.plane(lat, lon)
        projected = {}
        for line in self.lines:
            along, across, segment = line.project(x, y, self.max_distance)
            line.last_segment = segment
            line.note_along(along)
            projected[line.direction] = (along, across, segment)
        line = self._direction(projected)
        if line is not self._line:
            self._line, self._index = line, None
        along, _, segment = projected[line.direction]
        self._move(line, segment, along, x, y)
        if self._index is None:
            return Located(None, line.direction, None)
        return Located(line.ids[self._index], line.direction,
                       round(line.distance(self._index, x, y), 1))

    def _direction(self, projected) -> _Line:
        """The line the bus drives along: the one with headway, else the one it was on, else
        (a first fix) the nearest. Once known, the direction turns at the end of its line
        at once, and elsewhere only after DIRECTION_FIXES fixes in a row show headway the
        other way: where a road turns sharply, a fix past the turn projects onto the leg
        before it for a few fixes, which looks like driving the other way."""
        moving = [line for line in self.lines if line.headway >= DIRECTION_MOVE]
        if self._line is None:
            if moving:
                return max(moving, key=lambda line: line.headway)
            return min(self.lines,
                       key=lambda line: (projected[line.direction][1], line.direction))
        if not moving or self._line in moving:
            self._against = 0
            return self._line
        self._against += 1
        at_end = self._index is not None and self._index >= len(self._line.ids) - 2
        if at_end or self._against >= DIRECTION_FIXES:
            self._against = 0
            return max(moving, key=lambda line: line.headway)
        return self._line

    def _move(self, line: _Line, segment: int, along: float, x: float, y: float) -> None:
        """Take the nearest stop near ``segment`` within reach, or stay (see the module)."""
        last = len(line.ids) - 1
        candidate, distance = segment, math.inf
        for i in range(max(0, segment - 1), min(last, segment + 2) + 1):
            d = line.distance(i, x, y)
            if d < distance:
                candidate, distance = i, d
        if distance > self.max_distance:
            return  # between stops: the last one reached stays
        current = self._index
        if current is None or candidate == current:
            self._index = candidate
        elif candidate > current:
            if distance < line.distance(current, x, y) - self.hysteresis:
                self._index = candidate
        elif line.along[current] - along > self.max_distance:
            self._index = candidate  # clearly behind the current stop


def nearest_stop_scan(stops: RouteStops, lat: float, lon: float,
                      max_distance: float = DEFAULT_MAX_DISTANCE) -> str | None:
    """The baseline the locator is measured against (bench/bench_nearest_stop.py): the stop
    nearest a fix by great-circle distance over every stop of the route, within reach."""
    best, best_id = math.inf, None
    phi = math.radians(lat)
    for direction in stops.directions:
        for stop in direction.stops:
            d = haversine(phi, math.radians(lon), math.radians(stop.lat), math.radians(stop.lon))
            if d < best:
                best, best_id = d, stop.id
    return best_id if best <= max_distance else None


def haversine(phi1: float, lam1: float, phi2: float, lam2: float) -> float:
    """Metres between two points given in radians."""
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin((lam2 - lam1) / 2) ** 2)
    return 2 * EARTH * math.asin(math.sqrt(a))
