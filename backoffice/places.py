"""Stops and routes as the network's GTFS feed names them, for ridership.

A trip's ``stop`` is what its validator recorded: a GTFS ``stop_id`` of the network when the
bus knew where it was, else text a driver set. A value that is a stop of the network is
named as the feed names it and counted at its **place** (its station: the stops within a
few metres of one another, whatever route or direction they serve, ``issuer.network.feed``);
any other value is its own place, named by its text, so nothing recorded is lost or merged
by guesswork.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from issuer.platform.models import Route, ShapePoint, Stop

NO_STOP = "(no stop)"  # a scan the validator recorded at no stop
_CHUNK = 500  # ids per IN (...): well under every database's limit of parameters


class Place(NamedTuple):
    """Where a recorded stop value is counted. ``key``: the station's stop id, or the value
    itself when the network has no such stop; ``stop_id``: the GTFS stop id or None;
    ``stop_name``: the stop's own name; ``name``: the place's (its station's) name."""

    key: str
    name: str
    stop_id: str | None
    stop_name: str
    lat: float | None
    lon: float | None


def unknown(value: str | None) -> Place:
    text = value or NO_STOP
    return Place(text, text, None, text, None, None)


def lookup(session: Session, values: Iterable[str | None]) -> dict[str | None, Place]:
    """Each recorded value's place; a value the network does not know is its own."""
    values = list(values)
    wanted = sorted({v for v in values if v})
    station = aliased(Stop)
    found: dict[str | None, Place] = {}
    for at in range(0, len(wanted), _CHUNK):
        query = (sa.select(Stop.id, Stop.name, station.id, station.name, station.lat,
                           station.lon)
                 .join(station, station.id == Stop.station)
                 .where(Stop.id.in_(wanted[at:at + _CHUNK])))
        for stop_id, stop_name, key, name, lat, lon in session.execute(query):
            found[stop_id] = Place(key, name, stop_id, stop_name, lat, lon)
    return {v: found.get(v) or unknown(v) for v in set(values)}


def route_names(session: Session, codes: Iterable[str] | None = None) -> dict[str, str]:
    """code -> the route's name (every route when ``codes`` is None)."""
    query = sa.select(Route.code, Route.name)
    if codes is not None:
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        query = query.where(Route.code.in_(wanted))
    return {code: name for code, name in session.execute(query)}


def stations(session: Session) -> list[Place]:
    """Every place of the network in service (a station's own stop not retired), for a map."""
    query = (sa.select(Stop.id, Stop.name, Stop.lat, Stop.lon)
             .where(Stop.id == Stop.station, Stop.retired_at.is_(None)).order_by(Stop.id))
    return [Place(i, name, i, name, lat, lon) for i, name, lat, lon in session.execute(query)]


def shapes(session: Session, route: str | None = None) -> dict[tuple[str, int],
                                                             list[tuple[float, float]]]:
    """(route code, direction) -> the path it drives, as (lat, lon) in order."""
    query = (sa.select(ShapePoint.route_code, ShapePoint.direction, ShapePoint.lat,
                       ShapePoint.lon)
             .order_by(ShapePoint.route_code, ShapePoint.direction, ShapePoint.seq))
    if route is not None:
        query = query.where(ShapePoint.route_code == route)
    out: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for code, direction, lat, lon in session.execute(query):
        out.setdefault((code, direction), []).append((lat, lon))
    return out
