"""A map of the network's stops drawn from their coordinates, for the console: what the SVG
on the map page holds, computed here and written out by its template.

No tiles and no script: a city's bus network is a few thousand points and a few hundred
paths, which an SVG carries in a few hundred kilobytes and every browser draws, printed or
read on a phone. Places are circles whose *area* follows their boardings (a place with four
times the boardings has twice the radius); the routes' paths are lines beneath them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH = 1000.0  # viewBox units; the page scales the drawing to its width
PAD = 24.0
MAX_HEIGHT = 1200.0
MIN_SPAN = 0.005  # degrees: a network of one place still gets a map around it
DOT = 2.2  # a place with no boardings in the period
SMALLEST, LARGEST = 3.5, 22.0  # radii of a place with boardings
# viewBox units (about a pixel on a laptop; some 50 m across a city): closer points of a path
# are not drawn, and a path's points are whole units. A city's 200 paths then weigh a few
# hundred kilobytes, not megabytes.
STEP = 2.0
# Line colours for routes, told apart by hue and lightness (readable on white).
COLOURS = ("#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#ff7f0e", "#7f7f7f", "#2ca02c")


@dataclass
class Drawing:
    width: float
    height: float
    dots: list[dict] = field(default_factory=list)  # places without boardings
    circles: list[dict] = field(default_factory=list)  # the busiest last: drawn on top
    lines: list[dict] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)  # circle sizes
    routes: list[dict] = field(default_factory=list)  # route code -> colour, when few

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:.0f} {self.height:.0f}"


def draw(stations, counted: list[dict], paths: dict[tuple[str, int], list[tuple[float, float]]],
         route_names: dict[str, str]) -> Drawing | None:
    """``stations``: every place of the network (``places.Place``); ``counted``: the stops
    table's rows (``reports.by_stop``), with coordinates where the network knows the place;
    ``paths``: (route, direction) -> [(lat, lon)]. None when nothing has coordinates."""
    located = [r for r in counted if r["lat"] is not None]
    points = ([(s.lat, s.lon) for s in stations] + [(r["lat"], r["lon"]) for r in located]
              + [p for path in paths.values() for p in path])
    if not points:
        return None
    project, width, height = _projection(points)
    drawing = Drawing(width, height)
    busy = {r["stop"] for r in located if r["boardings"] or r["alightings"]}
    for s in stations:
        if s.key not in busy:
            x, y = project(s.lat, s.lon)
            drawing.dots.append({"x": x, "y": y, "name": s.name, "key": s.key})
    peak = max((r["boardings"] for r in located), default=0)
    for r in sorted(located, key=lambda r: (r["boardings"], r["stop"])):
        if r["stop"] not in busy:
            continue
        x, y = project(r["lat"], r["lon"])
        drawing.circles.append({"x": x, "y": y, "r": _radius(r["boardings"], peak),
                                "key": r["stop"], "name": r["stop_name"],
                                "boardings": r["boardings"], "alightings": r["alightings"]})
    codes = sorted({code for code, _ in paths})
    colour = {code: COLOURS[n % len(COLOURS)] for n, code in enumerate(codes)}
    for (code, direction), path in sorted(paths.items()):
        drawing.lines.append({"route": code, "direction": direction, "colour": colour[code],
                              "name": route_names.get(code) or code,
                              "points": _polyline(project, path)})
    if len(codes) <= len(COLOURS):
        drawing.routes = [{"route": c, "name": route_names.get(c) or c, "colour": colour[c]}
                          for c in codes]
    if peak:
        drawing.legend = [{"boardings": n, "r": _radius(n, peak)}
                          for n in sorted({peak, max(1, peak // 4)}, reverse=True)]
    return drawing


def _projection(points: list[tuple[float, float]]):
    """Equirectangular at the network's mean latitude: true to a few per cent over a city."""
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    mid = (south + north) / 2
    if north - south < MIN_SPAN:
        south, north = mid - MIN_SPAN / 2, mid + MIN_SPAN / 2
    across = (east - west) * math.cos(math.radians(mid))
    if across < MIN_SPAN:
        centre = (east + west) / 2
        half = MIN_SPAN / 2 / math.cos(math.radians(mid))
        west, east = centre - half, centre + half
        across = MIN_SPAN
    scale = (WIDTH - 2 * PAD) / across
    if (north - south) * scale + 2 * PAD > MAX_HEIGHT:
        scale = (MAX_HEIGHT - 2 * PAD) / (north - south)
    cos = math.cos(math.radians(mid))
    width = across * scale + 2 * PAD
    height = (north - south) * scale + 2 * PAD

    def project(lat: float, lon: float) -> tuple[float, float]:
        return (round(PAD + (lon - west) * cos * scale, 1),
                round(PAD + (north - lat) * scale, 1))

    return project, width, height


def _radius(boardings: int, peak: int) -> float:
    if not boardings or not peak:
        return DOT + 0.8  # alightings only: still drawn as a place with riders
    return round(SMALLEST + (LARGEST - SMALLEST) * math.sqrt(boardings / peak), 1)


def _polyline(project, path: list[tuple[float, float]]) -> str:
    kept: list[tuple[int, int]] = []
    for lat, lon in path:
        x, y = project(lat, lon)
        if not kept or abs(x - kept[-1][0]) + abs(y - kept[-1][1]) >= STEP:
            kept.append((round(x), round(y)))
    x, y = project(*path[-1])
    if kept[-1] != (round(x), round(y)):
        kept.append((round(x), round(y)))
    return " ".join(f"{x},{y}" for x, y in kept)
