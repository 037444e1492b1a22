"""A recorded drive replayed: a route imported from a GTFS feed (``vexe network import``),
a validator process (``vexe validator run --gps nmea:...``) fed noisy NMEA fixes along the
route's shape through a pseudo-terminal, as a serial GPS feeds it, and riders scanned at
points along the way. The trips in Redis name the GTFS stop where each rider boarded, found
by GPS; a stop the driver sets is marked manual."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis

from shared import clock
from shared.redis_keys import route_stops
from tests.network.test_gtfs_import import NEXT_YEAR, write
from tests.testkit import Issuer, free_port, stream_trips, wait_for

VEXE = Path(sys.executable).parent / "vexe"
LAT0, LON0 = 21.0200, 105.8000
M = 111_195.0  # metres per degree of latitude
CORNER = 1200.0  # the route runs east this far, then north
# Stops of direction 0 by metres along the shape; 800 and 840 are a close pair.
ALONG = {"HN_0101": 0, "HN_0102": 400, "HN_0103": 800, "HN_0104": 840, "HN_0105": 1200,
         "HN_0106": 1600, "HN_0107": 2000}


def at(metres: float, side: float = 0.0) -> tuple[float, float]:
    """The point ``metres`` along the shape, ``side`` metres to its left (north, then west)."""
    if metres <= CORNER:
        east, north = metres, side
    else:
        east, north = CORNER - side, metres - CORNER
    return LAT0 + north / M, LON0 + east / (M * math.cos(math.radians(LAT0)))


def feed() -> dict[str, list[list[str]]]:
    stops = [["stop_id", "stop_name", "stop_lat", "stop_lon"]]
    back = {}
    for stop_id, metres in ALONG.items():
        stops.append([stop_id, f"Điểm dừng {stop_id[-2:]}", *map(str, at(metres))])
        back[stop_id] = f"{stop_id}B"
        stops.append([back[stop_id], f"Điểm dừng {stop_id[-2:]}", *map(str, at(metres, 12))])
    shape = [["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"]]
    for n, metres in enumerate([0, CORNER, 2000]):
        shape.append(["OUT", *map(str, at(metres)), str(n)])
    trips = [["route_id", "service_id", "trip_id", "direction_id", "shape_id"],
             ["R32", "WD", "out1", "0", "OUT"], ["R32", "WD", "back1", "1", ""]]
    times = [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]]
    for n, stop_id in enumerate(ALONG):
        times.append(["out1", f"06:{n:02d}:00", f"06:{n:02d}:00", stop_id, str(n)])
        times.append(["back1", f"07:{n:02d}:00", f"07:{n:02d}:00",
                      back[list(ALONG)[-1 - n]], str(n)])
    return {
        "agency.txt": [["agency_id", "agency_name", "agency_url", "agency_timezone"],
                       ["TRANSERCO", "Transerco", "https://transerco.vn", "Asia/Ho_Chi_Minh"]],
        "routes.txt": [["route_id", "agency_id", "route_short_name", "route_long_name",
                        "route_type"], ["R32", "TRANSERCO", "32", "Giáp Bát - Nhổn", "3"]],
        "stops.txt": stops, "trips.txt": trips, "stop_times.txt": times,
        "calendar.txt": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                          "saturday", "sunday", "start_date", "end_date"],
                         ["WD", "1", "1", "1", "1", "1", "1", "1", "20260101",
                          f"{NEXT_YEAR}1231"]],
        "shapes.txt": shape,
    }


def rmc(lat: float, lon: float) -> bytes:
    body = (f"GNRMC,083559.00,A,{_dm(lat, 2)},N,{_dm(lon, 3)},E,8.0,90.0,031226,,,A")
    checksum = 0
    for char in body.encode():
        checksum ^= char
    return f"${body}*{checksum:02X}\r\n".encode()


def _dm(value: float, width: int) -> str:
    degrees = int(value)
    return f"{degrees:0{width}d}{(value - degrees) * 60:08.5f}"


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Vexe-Client": "test"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_validator_driven_along_the_route_records_the_stop_of_each_boarding(
        cli, tmp_path, redis_url):
    summary = cli.json("network", "import", write(tmp_path / "feed.zip", feed()))
    assert summary["stops_published"]["routes_with_stops"] == 1
    admin = redis.Redis.from_url(redis_url)
    assert admin.get(route_stops("32")) is not None

    issuer = Issuer()
    home = tmp_path / "var" / "validator-D1"
    home.mkdir(parents=True)
    (home / "trust.json").write_text(issuer.trust.dumps())
    master, slave = os.openpty()
    port = free_port()
    env = {**os.environ, "VEXE_REDIS_URL": redis_url, "VEXE_DATA_DIR": str(tmp_path / "var")}
    with open(tmp_path / "validator.log", "wb") as log:
        proc = subprocess.Popen(
            [str(VEXE), "validator", "run", "--id", "D1", "--vehicle", "29B-777.01", "--route",
             "32", "--http-port", str(port), "--no-stdin", "--gps",
             f"nmea:{os.ttyname(slave)}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    expected: dict[str, tuple[str, str | None]] = {}
    try:
        # The stops came from Redis: 7 each way.
        wait_for(lambda: (_get(base + "/status") or {}).get("stops_known") == 14, timeout=30,
                 what="the route's stops pulled")
        rng = random.Random(2026)
        written = 0
        # Scan 5 m past each stop, and once between stops out of reach of both (the rider
        # who boarded at HN_0104 and scans late is counted there).
        scans = {metres + 5: stop_id for stop_id, metres in ALONG.items()}
        scans[1020] = "HN_0104"
        taken = lambda: (_get(base + "/status") or {}).get("gps", {}).get("fixes")  # noqa: E731
        for metres in range(-60, 2031, 5):
            # Noise of a receiver in a street (7 m), and now and then a jump (multipath).
            error = 7 if rng.random() > 0.03 else 60
            lat, lon = at(metres, rng.gauss(0, error))
            lat += rng.gauss(0, error) / M
            os.write(master, rmc(lat, lon))
            written += 1
            if rng.random() < 0.05:
                os.write(master, b"$GPRMC,garbage*00\r\n")  # a line the port mangled
            if metres in scans:
                wait_for(lambda: taken() == written, timeout=10, what="fixes taken")
                now = clock.now()
                decision = _post(base + "/scan", {"qr": issuer.rider(now=now).qr(now)})
                assert decision["decision"] == "accept", decision
                expected[decision["trip_id"]] = (scans[metres], "gps")
        assert len(expected) == len(ALONG) + 1
        wait_for(lambda: taken() == written, timeout=10, what="fixes taken")
        # The driver sets the stop by hand: the next trip says so.
        assert _post(base + "/position", {"stop": "Cổng chợ"})["stop_by"] == "manual"
        now = clock.now()
        decision = _post(base + "/scan", {"qr": issuer.rider(now=now).qr(now)})
        expected[decision["trip_id"]] = ("Cổng chợ", "manual")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        os.close(master)
        os.close(slave)
    trips = {t.id: (t.stop, t.stop_by) for t in stream_trips(admin)}
    admin.close()
    assert trips == expected, (tmp_path / "validator.log").read_text()
