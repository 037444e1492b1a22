"""The bus knows its stop: ``POST /position`` with a GPS fix finds the nearest stop of the
route in the direction of travel (validator.locate), from the route's stops pulled from
Redis; trips carry the stop id and how it was known (``stop_by``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import clock
from shared.redis_keys import route_stops
from validator.locate import nearest_stop_scan
from validator.sync import Syncer, connect
from gps_testkit import EAST, drive, point, street
from validator_testkit import http_client
from tests.testkit import ROUTE


@pytest.fixture
def validator(make_validator, redis_url, redis_client):
    """A validator on route 32 whose stops came from Redis as the sync pulls them."""
    redis_client.set(route_stops(ROUTE), street(ROUTE).dumps())
    validator = make_validator(validator_id="G1", vehicle="29B-500.01")
    syncer = Syncer(validator.journal, validator.lists, connect(redis_url), validator_id="G1",
                    route=lambda: validator.route)
    try:
        assert syncer.pull_once(clock.now())["stops"] == "changed"
    finally:
        syncer.client.close()
    return validator


@pytest.fixture
def client(validator):
    return http_client(validator)


def post_fix(client, lat, lon, **extra):
    return client.post("/position", json={"lat": lat, "lon": lon, **extra})


def distinct(values):
    out = []
    for value in values:
        if value is not None and (not out or out[-1] != value):
            out.append(value)
    return out


class TestDriving:
    def test_driving_the_street_east_names_each_stop_once_in_order(self, client, validator):
        seen = []
        for _, lat, lon in drive(-100, 1600, 10):
            answer = post_fix(client, lat, lon)
            assert answer.status_code == 200, answer.get_json()
            seen.append(answer.get_json()["stop"])
        assert distinct(seen) == list(EAST)  # no flapping at C and D, 40 m apart
        assert validator.stop_by == "gps"

    def test_the_plain_nearest_stop_would_flap_on_the_same_fixes(self, validator):
        """The same drive, decided by distance alone: the stops across the road and the two
        close ones come and go. (What the locator is for; also shows the fixes are noisy
        enough for the test above to fail without it.)"""
        stops = street(ROUTE)
        seen = [nearest_stop_scan(stops, lat, lon) for _, lat, lon in drive(-100, 1600, 10)]
        assert distinct(seen) != list(EAST)
        assert len(distinct(seen)) > len(EAST)

    def test_driving_back_west_names_the_stops_of_the_other_direction(self, client):
        seen = [post_fix(client, lat, lon).get_json()["stop"]
                for _, lat, lon in drive(1600, -100, 10, north=15, seed=11)]
        assert distinct(seen) == ["E_1", "D_1", "C_1", "B_1", "A_1"]

    def test_the_direction_turns_at_the_end_of_the_line(self, client):
        for _, lat, lon in drive(-100, 1550, 10):
            post_fix(client, lat, lon)
        seen = [post_fix(client, lat, lon).get_json() for _, lat, lon in
                drive(1550, 1000, 10, north=15, seed=3)]
        assert seen[-1]["located"]["direction"] == 1
        # E_0 until the fixes show the way back, then the other direction's stops in order.
        assert distinct(s["stop"] for s in seen) in (["E_1", "D_1"], ["E_0", "E_1", "D_1"])

    def test_between_stops_the_last_one_reached_stays(self, client):
        for _, lat, lon in drive(-50, 250, 10):
            answer = post_fix(client, lat, lon).get_json()
        assert answer["stop"] == "A_0" and answer["located"]["stop"] == "A_0"
        assert answer["located"]["distance_m"] > 150

    def test_a_bus_standing_between_two_close_stops_does_not_flap(self, client):
        for _, lat, lon in drive(700, 920, 10):
            post_fix(client, lat, lon)
        standing = [post_fix(client, lat, lon).get_json()["stop"]
                    for _, lat, lon in drive(920, 920, 1, noise=10, seed=5)
                    for _ in range(1)]
        standing += [post_fix(client, *point(920 + dx, dy)).get_json()["stop"]
                     for dx, dy in [(-9, 4), (8, -6), (-7, 9), (10, 3), (-12, -5)] * 10]
        # It may move on to D once (D is ahead), and never back.
        assert distinct(standing) in (["C_0"], ["D_0"], ["C_0", "D_0"])


class TestReach:
    def test_a_first_fix_far_from_every_stop_finds_none(self, client, validator):
        answer = post_fix(client, *point(700, 400))
        assert answer.status_code == 200
        body = answer.get_json()
        assert (body["stop"], body["stop_by"], body["located"]["stop"]) == (None, None, None)

    def test_the_reach_is_a_setting(self, make_validator, redis_client, validator):
        near = make_validator(validator_id="G2", max_stop_distance=20)
        near.lists.update_stops(ROUTE, street(ROUTE).dumps())
        assert near.locate(*point(30)).stop is None  # 30 m from A: out of a 20 m reach
        assert validator.locate(*point(30)).stop == "A_0"


class TestTrips:
    def test_a_trip_carries_the_stop_id_and_how_it_was_known(self, client, validator, issuer):
        for _, lat, lon in drive(-50, 450, 10):
            post_fix(client, lat, lon)
        now = clock.now()
        gps = client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)}).get_json()
        client.post("/position", json={"stop": "Cổng trường"})  # the driver knows better
        manual = client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)}).get_json()
        # The manual stop holds at the same stop; the next stop the GPS finds replaces it.
        post_fix(client, *point(455))
        assert (validator.stop, validator.stop_by) == ("Cổng trường", "manual")
        for _, lat, lon in drive(460, 900, 10):
            post_fix(client, lat, lon)
        assert (validator.stop, validator.stop_by) == ("C_0", "gps")
        client.post("/position", json={"stop": None})
        nowhere = client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)}).get_json()
        trips = {t.id: t for t in validator.journal.trips()}
        assert (trips[gps["trip_id"]].stop, trips[gps["trip_id"]].stop_by) == ("B_0", "gps")
        assert (trips[manual["trip_id"]].stop,
                trips[manual["trip_id"]].stop_by) == ("Cổng trường", "manual")
        assert (trips[nowhere["trip_id"]].stop, trips[nowhere["trip_id"]].stop_by) == (None,
                                                                                      None)

    def test_a_fix_on_a_route_whose_stops_are_unknown_is_409_and_changes_nothing(
            self, client, validator):
        client.post("/position", json={"stop": "S9"})
        answer = post_fix(client, *point(0), route="99")
        assert answer.status_code == 409 and "no stops known for route '99'" in \
            answer.get_json()["error"]
        assert (validator.route, validator.stop, validator.stop_by) == (ROUTE, "S9", "manual")

    def test_a_fixed_stop_refuses_fixes(self, make_validator, validator):
        gate = http_client(validator, stop_source="fixed")
        answer = post_fix(gate, *point(0))
        assert answer.status_code == 409 and "fixed" in answer.get_json()["error"]
        assert validator.stop is None


# Each refused with a 400, and nothing changes.
BAD_FIXES = [
    '{"lat": 21.03}', '{"lon": 105.8}', '{"lat": "21.03", "lon": 105.8}',
    '{"lat": 21.03, "lon": true}', '{"lat": null, "lon": 105.8}', '{"lat": NaN, "lon": 105.8}',
    '{"lat": 21.03, "lon": Infinity}', '{"lat": -Infinity, "lon": 105.8}',
    '{"lat": 1e400, "lon": 105.8}', '{"lat": 91, "lon": 105.8}', '{"lat": 21, "lon": -180.5}',
    '{"lat": ' + "9" * 5000 + ', "lon": 1}', '{"lat": [21], "lon": 105.8}',
    '{"lat": {"d": 21}, "lon": 105.8}', '{"lat": 21.03, "lon": 105.8, "stop": "S1"}',
    '{"lat": 21.03, "lon": 105.8, "route": "3\\u00002"}', '{"lat": 21.03, "lon": 105.8, "x": 1}',
    '{"lat": "\\u0000", "lon": "\\ud800"}', '{"lat": 21.03, "lon": 105.8',
]


@pytest.mark.parametrize("body", BAD_FIXES)
def test_a_bad_fix_is_400_and_changes_nothing(client, validator, body):
    post = client.post("/position", data=body.encode("utf-8", "surrogatepass"),
                       content_type="application/json")
    assert post.status_code == 400, post.get_data()
    assert post.get_json()["error"]
    assert (validator.route, validator.stop, validator.stop_by) == (ROUTE, None, None)


NUMBERS = (st.floats(allow_nan=True, allow_infinity=True) | st.integers()
           | st.sampled_from([21.03, 105.8, 90, -90, 180, -180, 0]))
ANY = st.none() | st.booleans() | st.text(max_size=20) | NUMBERS | st.lists(NUMBERS, max_size=2)
FIX_BODIES = st.one_of(
    st.fixed_dictionaries({"lat": NUMBERS, "lon": NUMBERS}),
    st.fixed_dictionaries({"lat": ANY, "lon": ANY},
                          optional={"route": st.text(max_size=20), "stop": ANY, "x": ANY}),
    st.dictionaries(st.sampled_from(["lat", "lon", "route", "stop"]), ANY, max_size=4))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=FIX_BODIES)
def test_fuzzing_fixes_never_breaks_a_scan(client, validator, issuer, body):
    """Whatever is posted as a fix (NaN and Infinity too, which JSON's reader lets in), the
    answer is 200, 400 or 409, and the next scan still works."""
    validator.set_position(ROUTE, None)
    text = json.dumps(body)  # NaN, Infinity written as Python's reader takes them
    response = client.post("/position", data=text, content_type="application/json")
    assert response.status_code in (200, 400, 409), response.get_data()
    now = clock.now()
    assert client.post("/scan", json={"qr": issuer.rider(now=now, routes=("*",)).qr(now)}) \
        .get_json()["reason"] == "ok"

