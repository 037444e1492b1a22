"""The whole path, through the doors people use: the issuer's HTTP API mints a pass and its
credential, the phone makes the QR, a validator decides on the QR text offline, journals
the scan, and its sync puts the trip in Redis. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

import issuer
from issuer import bootstrap
from issuer.platform import db, settings
from issuer.passes import publish, signing
from shared import clock, keys, ticket
from validator.device import Validator
from validator.sync import Syncer, connect
import vexe
from tests.testkit import stream_trips
from validator.journal import Journal

ROOT = Path(__file__).resolve().parent.parent


class Issuer:
    """The issuer's HTTP API, called as the operator or as a rider."""

    def __init__(self, client, operator_token: str):
        self.client = client
        self.operator = operator_token

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {token or self.operator}"}
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code in (200, 201), (path, response.get_json())
        return response.get_json()

    def rider_with_pass(self, product: str, **fields) -> tuple[str, dict]:
        account = self.call("POST", "/api/accounts",
                            json={"full_name": "Nguyễn Văn An", "birth_date": "1950-03-02"})
        issued = self.call("POST", "/api/passes",
                           json={"account_id": account["id"], "product": product, **fields})
        return account["rider_token"], issued

    def activate(self, pass_id: str, rider_token: str) -> tuple[str, object]:
        """The phone makes its key and registers the public half: (credential, key)."""
        phone = keys.new_device_key()
        issued = self.call("POST", f"/api/passes/{pass_id}/device", token=rider_token,
                           json={"public_key": keys.device_public_compressed(phone)})
        return issued["credential"], phone


@pytest.fixture
def system(tmp_path, database_url, redis_url):
    """An initialised issuer, a validator on route 32 and its sync, all on real servers."""
    config = {"DATA_DIR": str(tmp_path / "issuer"), "DATABASE_URL": database_url,
              "REDIS_URL": redis_url}
    bootstrap.init(settings.load(config), now=clock.now())
    with db.session(database_url) as session:  # as `vexe init` does
        assert publish.publish(session, redis_url, now=clock.now()).ok
    app = issuer.create_app({**config, "TESTING": True})
    api = Issuer(app.test_client(), app.config["OPERATOR_TOKEN"])
    api.call("POST", "/api/routes", json={"code": "32", "name": "Giáp Bát - Nhổn"})
    api.call("POST", "/api/routes", json={"code": "09", "name": "Bờ Hồ - Cầu Giấy"})
    bus = Validator(validator_id="bus-7", vehicle="29B-12345", route="32", stop="S12",
                    data_dir=tmp_path / "validator")
    client = connect(redis_url)
    sync = Syncer(bus.journal, bus.lists, client, validator_id="bus-7")
    yield api, bus, sync, client
    bus.close()
    client.close()
    db.dispose()


@pytest.mark.parametrize("product, fields, category", [
    ("single", {"route": "32"}, None),
    ("multi", {}, None),
    ("free", {"category": "elderly"}, "elderly"),
])
def test_each_product_rides_and_its_trip_reaches_redis(system, product, fields, category):
    """Issuer -> credential -> phone QR -> offline decision -> journal -> Redis, per product."""
    api, bus, sync, client = system
    rider, issued = api.rider_with_pass(product, **fields)
    credential, phone = api.activate(issued["id"], rider)
    sync.pull_once(clock.now())

    now = clock.now()
    scan = bus.scan(ticket.encode_qr(credential, phone, now), now)
    assert (scan.accepted, scan.reason) == (True, "ok")
    assert scan.to_dict()["pass"]["product"] == product

    sync.push_all(clock.now())
    [trip] = stream_trips(client)
    assert (trip.pass_id, trip.product, trip.category) == (issued["id"], product, category)
    assert (trip.vehicle, trip.route, trip.stop, trip.decision) == ("29B-12345", "32", "S12",
                                                                    "accept")
    assert trip.id == scan.trip.id


def test_revocation_reaches_the_validator_through_redis(system):
    """Operator revokes over HTTP; the issuer publishes; the bus pulls; the pass is refused."""
    api, bus, sync, client = system
    rider, issued = api.rider_with_pass("multi")
    credential, phone = api.activate(issued["id"], rider)
    sync.pull_once(clock.now())
    now = clock.now()
    assert bus.scan(ticket.encode_qr(credential, phone, now), now).accepted

    api.call("POST", f"/api/passes/{issued['id']}/revoke", json={"reason": "phone lost"})
    assert sync.pull_once(clock.now())["denylist"] == "changed"
    other_bus_time = clock.now() + 1
    scan = bus.scan(ticket.encode_qr(credential, phone, other_bus_time), other_bus_time)
    assert scan.reason == "revoked"


def test_a_new_phone_retires_the_old_one(system):
    """Activating the pass on a second phone: the first phone's next credential is refused."""
    api, bus, sync, _client = system
    rider, issued = api.rider_with_pass("single", route="32")
    _old_credential, old_phone = api.activate(issued["id"], rider)
    new_credential, new_phone = api.activate(issued["id"], rider)
    sync.pull_once(clock.now())
    now = clock.now()
    # The old phone can't sign for the new credential; the new phone can.
    assert bus.scan(ticket.encode_qr(new_credential, old_phone, now), now).reason == "bad_proof"
    assert bus.scan(ticket.encode_qr(new_credential, new_phone, now), now).accepted


def test_key_rotation_keeps_old_credentials_until_the_key_is_retired(system, database_url,
                                                                    redis_url):
    """Rotate: old credentials still pass; retire the old key: they are refused."""
    api, bus, sync, _client = system
    rider, issued = api.rider_with_pass("multi")
    old_credential, phone = api.activate(issued["id"], rider)
    [old_kid] = [key["kid"] for key in api.call("GET", "/.well-known/jwks.json")["keys"]]
    api.call("POST", "/api/keys/rotate")
    sync.pull_once(clock.now())
    now = clock.now()
    assert bus.scan(ticket.encode_qr(old_credential, phone, now), now).accepted
    refreshed = api.call("POST", f"/api/passes/{issued['id']}/credential", token=rider)
    new_credential = refreshed["credential"]
    assert ticket.parse_qr(ticket.encode_qr(new_credential, phone, now)).header_json != \
        ticket.parse_qr(ticket.encode_qr(old_credential, phone, now)).header_json

    with db.session(database_url) as session:
        signing.retire(session, old_kid, now=clock.now())
        session.commit()
        assert publish.publish(session, redis_url, now=clock.now()).ok
    sync.pull_once(clock.now())
    later = clock.now() + 700  # past the passback window
    assert bus.scan(ticket.encode_qr(old_credential, phone, later), later).reason == "unknown_key"
    assert bus.scan(ticket.encode_qr(new_credential, phone, later), later).accepted


def _run_demo(env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    vexe = Path(sys.executable).parent / "vexe"
    return subprocess.run([str(vexe), "demo", "--once", "--data-dir", str(tmp_path / "demo")],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def _demo_feed(route_code: str) -> tuple[int, dict[str, str]]:
    """The GTFS feed the demo ships: its number of stops, and the stops of ``route_code``'s
    trips (id -> name)."""
    feed = Path(vexe.__file__).parent / "demo_feed"

    def rows(name: str) -> list[dict]:
        with open(feed / name, encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file))

    routes = {r["route_id"] for r in rows("routes.txt") if r["route_short_name"] == route_code}
    trips = {t["trip_id"] for t in rows("trips.txt") if t["route_id"] in routes}
    served = {st["stop_id"] for st in rows("stop_times.txt") if st["trip_id"] in trips}
    stops = rows("stops.txt")
    return len(stops), {s["stop_id"]: s["stop_name"] for s in stops if s["stop_id"] in served}


def _assert_located_by_gps(result: subprocess.CompletedProcess, trips: list) -> None:
    """The demo imported its feed and its bus took its stop, one of route 32's in the feed,
    from the GPS fix: every scan's trip names that stop, and the output names it."""
    count, route_stops = _demo_feed("32")
    assert f"(GTFS): 3 routes, {count} stops" in result.stdout
    assert len(trips) == 10
    assert {trip.stop_by for trip in trips} == {"gps"}
    (stop,) = {trip.stop for trip in trips}
    assert stop in route_stops
    assert f"at stop {stop} {route_stops[stop]}, direction 0" in result.stdout


def test_demo_runs_scans_and_sends_trips_to_redis(tmp_path, redis_url):
    """`vexe demo --once`: each decision shown, the trips arrive in Redis exactly once, each
    at the GTFS stop the bus's GPS fix found."""
    result = _run_demo({**os.environ, "VEXE_REDIS_URL": redis_url}, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for reason in ("ok", "passback", "stale_proof", "wrong_route", "bad_proof", "bad_signature",
                   "malformed", "revoked"):
        assert f" {reason} " in result.stdout
    client = redis.Redis.from_url(redis_url)
    trips = stream_trips(client)
    client.close()
    assert len(trips) == 10 and len({trip.id for trip in trips}) == 10
    assert sum(trip.decision == "accept" for trip in trips) == 3
    _assert_located_by_gps(result, trips)
    assert "stops of 3 routes published to Redis: True" in result.stdout


def test_demo_without_any_redis_still_validates_and_journals(tmp_path):
    """No Redis and no redis-server to start: scans go on, and the demo says what to install;
    the bus takes its route's stops as a depot loads them, and locates itself."""
    env = {**os.environ, "VEXE_REDIS_URL": "redis://127.0.0.1:1/0",
           "PATH": str(Path(sys.executable).parent)}
    result = _run_demo(env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "apt-get install redis-server" in result.stdout
    assert "10 scans waiting to be pushed" in result.stdout
    assert result.stdout.count("ACCEPT") == 3
    journal = Journal(tmp_path / "demo" / "validator-demo-bus-1" / "journal.db")
    try:
        trips = journal.trips()
    finally:
        journal.close()
    _assert_located_by_gps(result, trips)


def test_the_old_phone_is_refused_as_soon_as_the_denylist_arrives(system):
    """A new phone retires the old one at once: its still-valid credential is refused."""
    api, bus, sync, _client = system
    rider, issued = api.rider_with_pass("multi")
    old_credential, old_phone = api.activate(issued["id"], rider)
    new_credential, new_phone = api.activate(issued["id"], rider)
    assert sync.pull_once(clock.now())["denylist"] == "changed"
    now = clock.now()
    assert bus.scan(ticket.encode_qr(old_credential, old_phone, now), now).reason == \
        "device_replaced"
    assert bus.scan(ticket.encode_qr(new_credential, new_phone, now), now).accepted
