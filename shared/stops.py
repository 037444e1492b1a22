"""A route's stops as the issuer publishes them to Redis and a validator keeps them: for each
direction the ordered stops, each with its GTFS ``stop_id``, its place (the station that
groups stops at the same spot across routes and directions), name and coordinates.

The issuer encodes it (issuer.passes.publish), the validator decodes and checks it
(validator.lists) with the same structure: a list that does not decode never replaces a
good one on the bus.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.trip import STOP_LEN

MAX_STOPS = 2000  # in one direction of one route: a long city route has about a hundred
NAME_LEN = 200  # a stop's name, as the network's stops table keeps it

StopId = Annotated[str, msgspec.Meta(min_length=1, max_length=STOP_LEN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_LEN)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class Stop(msgspec.Struct, frozen=True, gc=False):
    id: StopId
    place: StopId  # the station: one place for ridership and transfers
    name: Name
    lat: Lat
    lon: Lon


class Direction(msgspec.Struct, frozen=True, gc=False):
    direction: Literal[0, 1]  # GTFS direction_id
    stops: Annotated[list[Stop], msgspec.Meta(min_length=1, max_length=MAX_STOPS)]


class RouteStops(msgspec.Struct, frozen=True, gc=False):
    route: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    directions: Annotated[list[Direction], msgspec.Meta(min_length=1, max_length=2)]

    def dumps(self) -> str:
        return msgspec.json.encode(self).decode("utf-8")

    @classmethod
    def loads(cls, text: str | bytes) -> "RouteStops":
        """The stops in ``text``; ValueError saying why if they are not a route's stops."""
        try:
            stops = _DECODER.decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ValueError(f"not a route's stops: {exc}") from None
        if len({d.direction for d in stops.directions}) != len(stops.directions):
            raise ValueError("not a route's stops: a direction given twice")
        return stops


_DECODER = msgspec.json.Decoder(RouteStops)
