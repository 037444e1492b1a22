"""Each route's stops reach Redis for its validators (``vexe:stops:<route>``): after
``vexe network import`` and with ``vexe publish``; a route gone from service is taken out."""

from __future__ import annotations

import pytest
import redis

from shared.redis_keys import route_stops
from shared.stops import RouteStops
from tests.network.test_gtfs_import import city, edited, imported


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def published(redis_client, route: str) -> RouteStops | None:
    raw = redis_client.get(route_stops(route))
    return None if raw is None else RouteStops.loads(raw)


def test_an_import_publishes_each_routes_ordered_stops_with_their_place(cli, tmp_path,
                                                                         redis_client):
    summary = imported(cli, tmp_path, city())
    assert summary["stops_published"] == {"published": True, "routes_with_stops": 2,
                                          "routes_removed": 0}
    route = published(redis_client, "32")
    assert route.route == "32"
    [outbound, inbound] = route.directions
    assert [s.id for s in outbound.stops] == ["S1_0", "S2_0", "S4_0"]  # the feed's order
    assert [s.id for s in inbound.stops] == ["S4_1", "S3_1", "S2_1", "S1_1"]
    # Both directions' stops at one place name the same place: one stop for ridership.
    assert inbound.stops[-1].place == outbound.stops[0].place == "S1_0"
    first = outbound.stops[0]
    assert (first.name, first.lat, first.lon) == ("Điểm dừng S1", 21.0285, 105.8048)
    assert [d.direction for d in published(redis_client, "31").directions] == [0]


def test_a_route_gone_from_the_feed_is_taken_out_of_redis(cli, tmp_path, redis_client):
    imported(cli, tmp_path, city())

    def without_31(files):
        files["routes.txt"] = [r for r in files["routes.txt"] if r[0] != "R31"]
        files["trips.txt"] = [r for r in files["trips.txt"] if r[0] != "R31"]
        files["stop_times.txt"] = [r for r in files["stop_times.txt"] if r[0] != "31a"]

    summary = imported(cli, tmp_path, edited(without_31))
    assert summary["stops_published"]["routes_removed"] == 1
    assert published(redis_client, "31") is None and published(redis_client, "32") is not None


def test_with_redis_away_the_import_stands_and_publish_sends_the_stops_later(
        cli, tmp_path, redis_client):
    away = {"VEXE_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = cli.ok("network", "import", _feed(tmp_path), env=away)
    assert "stops not published" in result.stderr and "vexe publish" in result.stderr
    assert published(redis_client, "32") is None
    out = cli.json("publish")
    assert out["stops"] == {"published": True, "routes_with_stops": 2, "routes_removed": 0}
    assert [s.id for s in published(redis_client, "32").directions[0].stops][0] == "S1_0"


@pytest.mark.parametrize("route", ["32", "E05A", "BRT-01"])
def test_a_route_code_names_its_key_and_nothing_else_does(route):
    assert route_stops(route) == f"vexe:stops:{route}"
    for bad in ["", "3*", "a", "32\x00", "x" * 17, "32:1", None]:
        assert route_stops(bad) is None


def _feed(tmp_path):
    from tests.network.test_gtfs_import import write

    return write(tmp_path / "feed.zip", city())
