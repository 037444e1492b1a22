"""Each route's stops as validators hold them (shared.stops): what publishing sends to Redis."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.models import Route, RouteStop, Stop
from shared.stops import Direction, RouteStops
from shared.stops import Stop as PublishedStop


def by_route(session: Session) -> dict[str, RouteStops]:
    """route code -> its ordered stops per direction, for every route in service that has
    stops. A retired route's stops are not published: its buses hold the last they had."""
    rows = session.execute(
        sa.select(RouteStop.route_code, RouteStop.direction, Stop.id, Stop.station, Stop.name,
                  Stop.lat, Stop.lon)
        .join(Stop, Stop.id == RouteStop.stop_id)
        .join(Route, Route.code == RouteStop.route_code)
        .where(Route.retired_at.is_(None))
        .order_by(RouteStop.route_code, RouteStop.direction, RouteStop.seq))
    stops: dict[str, dict[int, list[PublishedStop]]] = defaultdict(lambda: defaultdict(list))
    for code, direction, stop_id, station, name, lat, lon in rows:
        stops[code][direction].append(PublishedStop(stop_id, station, name, lat, lon))
    return {code: RouteStops(code, [Direction(d, s) for d, s in sorted(directions.items())])
            for code, directions in stops.items()}
