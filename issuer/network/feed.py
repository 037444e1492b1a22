"""The network as a GTFS feed describes it, applied to the database: companies, routes,
stops grouped into stations, each route's ordered stops and path.

A newer feed applies the difference. Routes are keyed by their code (``route_short_name``),
the route a pass names: a renamed route keeps its passes, a route gone from the feed is
retired (sells no new pass) and never deleted. Stops keep the feed's ``stop_id``; a stop gone
is retired too, so that what was recorded at it still names it. Each route's stops and path
are replaced whole.
"""

from __future__ import annotations

import math
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.network.gtfs import Feed
from issuer.platform.models import Route, RouteStop, ShapePoint, Stop
from issuer.platform.models import Company

STATION_RADIUS = 25.0  # metres: stops closer than this are one place
_EARTH = 6_371_000.0  # metres
PATTERN_RULE = ("the most common stop sequence of each route and direction's trips; "
                "ties: the longest")


def stations(stops: dict[str, tuple[str, float, float]]) -> dict[str, str]:
    """stop id -> its station: the smallest stop id of the stops within
    :data:`STATION_RADIUS` of one another (chained), whatever their ids. A grid of cells one
    radius wide finds the neighbours: a stop looks in its own cell and the eight around it."""
    cell = STATION_RADIUS / _EARTH * 180 / math.pi  # degrees of latitude
    grid: dict[tuple[int, int], list[str]] = defaultdict(list)
    for stop_id, (_, lat, lon) in stops.items():
        grid[int(lat // cell), int(lon * math.cos(math.radians(lat)) // cell)].append(stop_id)
    parent = {stop_id: stop_id for stop_id in stops}

    def root(stop_id: str) -> str:
        while parent[stop_id] != stop_id:
            parent[stop_id] = parent[parent[stop_id]]
            stop_id = parent[stop_id]
        return stop_id

    for (row, col), here in grid.items():
        near = [s for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                for s in grid.get((row + dr, col + dc), ())]
        for a in here:
            for b in near:
                if a < b and _distance(stops[a], stops[b]) <= STATION_RADIUS:
                    ra, rb = root(a), root(b)
                    parent[max(ra, rb)] = min(ra, rb)
    return {stop_id: root(stop_id) for stop_id in stops}


def _distance(a: tuple[str, float, float], b: tuple[str, float, float]) -> float:
    """Metres between two stops (equirectangular: exact enough at a few metres)."""
    mean = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[2] - a[2]) * math.cos(mean)
    dy = math.radians(b[1] - a[1])
    return _EARTH * math.hypot(dx, dy)


def plan(session: Session, feed: Feed) -> dict:
    """What importing ``feed`` changes, as the import's summary; changes nothing."""
    known = {r.code: r for r in session.scalars(sa.select(Route))}
    added = sorted(set(feed.routes) - set(known))
    renamed = sorted(code for code, (name, _) in feed.routes.items()
                     if code in known and known[code].name != name)
    restored = sorted(code for code in feed.routes
                      if code in known and known[code].retired_at is not None)
    retired = sorted(code for code, r in known.items()
                     if code not in feed.routes and r.retired_at is None)
    station_of = stations(feed.stops)
    known_stops = set(session.scalars(sa.select(Stop.id)))
    grouped = sum(1 for s, st in station_of.items() if s != st)
    warnings = list(feed.warnings)
    if grouped:
        warnings.append(f"{grouped} stops share a place with another stop (within "
                        f"{STATION_RADIUS:g} m): grouped into stations")
    return {
        "timezone": feed.timezone,
        "companies": sorted(feed.companies),
        "routes": {"in_feed": len(feed.routes), "added": added,
                   "renamed": [{"code": c, "from": known[c].name, "to": feed.routes[c][0]}
                               for c in renamed],
                   "restored": restored, "retired": retired},
        "stops": {"in_feed": len(feed.stops), "added": len(set(feed.stops) - known_stops),
                  "retired": len(known_stops - set(feed.stops)),
                  "stations": len(set(station_of.values())),
                  "grouped": grouped},
        "patterns": {"count": len(feed.patterns), "rule": PATTERN_RULE},
        "shapes": len(feed.shapes),
        "trips": feed.trips,
        "stop_times": feed.stop_times,
        "warnings": warnings,
    }


def apply(session: Session, feed: Feed, *, now: float) -> dict:
    """Import ``feed``; the caller commits (one transaction with its audit entry)."""
    summary = plan(session, feed)
    _companies(session, feed, now=int(now))
    _routes(session, feed, now=int(now))
    _stops(session, feed, now=int(now))
    session.execute(sa.delete(RouteStop))
    session.execute(sa.delete(ShapePoint))
    session.flush()
    if feed.patterns:
        session.execute(sa.insert(RouteStop), [
            {"route_code": code, "direction": direction, "seq": seq, "stop_id": stop_id}
            for (code, direction), stops in feed.patterns.items()
            for seq, stop_id in enumerate(stops)])
    if feed.shapes:
        session.execute(sa.insert(ShapePoint), [
            {"route_code": code, "direction": direction, "seq": seq, "lat": lat, "lon": lon}
            for (code, direction), points in feed.shapes.items()
            for seq, (lat, lon) in enumerate(points)])
    session.flush()
    return summary


def _companies(session: Session, feed: Feed, *, now: int) -> None:
    for code, name in feed.companies.items():
        company = session.get(Company, code)
        if company is None:
            session.add(Company(code=code, name=name, created_at=now))
        else:
            company.name = name
    session.flush()


def _routes(session: Session, feed: Feed, *, now: int) -> None:
    known = {r.code: r for r in session.scalars(sa.select(Route))}
    for code, (name, company) in feed.routes.items():
        route = known.get(code)
        if route is None:
            session.add(Route(code=code, name=name, company_code=company, created_at=now))
        else:
            route.name, route.company_code, route.retired_at = name, company, None
    for code, route in known.items():
        if code not in feed.routes and route.retired_at is None:
            route.retired_at = now
    session.flush()


def _stops(session: Session, feed: Feed, *, now: int) -> None:
    station_of = stations(feed.stops)
    known = {s.id: s for s in session.scalars(sa.select(Stop))}
    for stop_id, (name, lat, lon) in feed.stops.items():
        stop = known.get(stop_id)
        if stop is None:
            session.add(Stop(id=stop_id, name=name, lat=lat, lon=lon,
                             station=station_of[stop_id], created_at=now))
        else:
            stop.name, stop.lat, stop.lon = name, lat, lon
            stop.station, stop.retired_at = station_of[stop_id], None
    for stop_id, stop in known.items():
        if stop_id not in feed.stops and stop.retired_at is None:
            stop.retired_at = now
    session.flush()
