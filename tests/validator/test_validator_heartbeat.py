"""The validator's heartbeat: written while the bus is idle, dated by Redis, its own key only,
and never in the way of scanning or the sync."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import redis
from redis.backoff import ExponentialBackoff

from shared import clock
from shared.redis_keys import DENYLIST, TRIPS_STREAM, TRUST_LIST, heartbeat
from validator import acl
from validator.heartbeat import TTL, Heartbeat, software_version
from validator.journal import Journal
from validator.sync import Syncer, acl_rules, connect
from validator.timekeeping import MAX_ROUND_TRIP
from tests.testkit import ROUTE, beat_of, free_port, stream_trips, wait_for

VEXE = Path(sys.executable).parent / "vexe"
DENYLIST_TEXT = '{"issued_at": 1795000000, "entries": []}'


@pytest.fixture
def admin(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def redis_time(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def start(syncer: Syncer) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def make_user(redis_server, tmp_path, user: str) -> str:
    """The validator's own Redis user, as ``vexe validator acl create`` makes it."""
    path = tmp_path / f"{user}.password"
    out = subprocess.run([str(VEXE), "validator", "acl", "create", user, "--password-file",
                          str(path)], env={**os.environ, "VEXE_REDIS_URL": redis_server.url},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return str(path)


def test_an_idle_validator_beats_as_its_own_redis_user(tmp_path, issuer, redis_server, admin):
    admin.set(TRUST_LIST, issuer.trust.dumps())
    admin.set(DENYLIST, DENYLIST_TEXT)
    password_file = make_user(redis_server, tmp_path, "V-HB1")
    port = free_port()
    config = tmp_path / "validator.toml"
    config.write_text(f"""
[validator]
id = "V-HB1"
vehicle = "29B-555.01"
company = "TRANSERCO"
data_dir = "{tmp_path / 'data'}"
mode = "alight"
[position]
route = "{ROUTE}"
stop = "S07"
[redis]
url = "{redis_server.url}"
username = "V-HB1"
password_file = "{password_file}"
heartbeat_seconds = 0.1
[journal]
max_mb = 100
[http]
port = {port}
[input]
scanner = "none"
""")
    log = open(tmp_path / "validator.log", "wb")
    proc = subprocess.Popen([str(VEXE), "validator", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    try:
        first = wait_for(lambda: beat_of(admin, "V-HB1"), timeout=20)
        assert first["at"] <= redis_time(admin)  # dated by Redis's clock
        assert admin.ttl(heartbeat("V-HB1")) in range(TTL - 60, TTL + 1)
        # Nobody boards, and it keeps saying so.
        second = wait_for(lambda: (b := beat_of(admin, "V-HB1")) and b["at"] > first["at"] and b,
                          timeout=20)
        assert stream_trips(admin) == []

        home = tmp_path / "data" / "validator-V-HB1"
        with Journal(home / "journal.db") as journal:
            epoch = journal.epoch
        assert {k: second[k] for k in ("validator", "vehicle", "company", "route", "stop",
                                        "mode", "backlog", "oldest_unsent_ms", "storage",
                                        "journal_epoch", "software", "trust_kids",
                                        "denylist_issued_at", "denylist_entries",
                                        "journal_max_bytes")} == {
            "validator": "V-HB1", "vehicle": "29B-555.01", "company": "TRANSERCO",
            "route": ROUTE, "stop": "S07", "mode": "alight", "backlog": 0,
            "oldest_unsent_ms": None, "storage": "ok", "journal_epoch": epoch,
            "software": software_version(), "trust_kids": [issuer.kid],
            "denylist_issued_at": 1795000000, "denylist_entries": 0,
            "journal_max_bytes": 100 * 1024 * 1024}
        # One clock, measured from a round trip no slower than MAX_ROUND_TRIP.
        assert abs(second["clock_offset_s"]) <= MAX_ROUND_TRIP / 2
        assert second["trust_fetched_at"] and second["denylist_fetched_at"]
        assert 0 < second["storage_free_bytes"] <= second["disk_free_bytes"]
        assert second["storage_free_bytes"] <= 100 * 1024 * 1024 - second["journal_bytes"]

        # A scan moves the beat with it: the door and route it has now, nothing left unsent.
        base = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(
            base + "/mode", data=b'{"mode": "board"}',
            headers={"Content-Type": "application/json", "X-Vexe-Client": "test"}),
            timeout=5).close()
        now = clock.now()
        with urllib.request.urlopen(urllib.request.Request(
                base + "/scan", data=json.dumps({"qr": issuer.rider(now=now).qr(now)}).encode(),
                headers={"Content-Type": "application/json", "X-Vexe-Client": "test"}),
                timeout=5) as response:
            assert json.loads(response.read())["decision"] == "accept"
        wait_for(lambda: len(stream_trips(admin)) == 1)
        after = wait_for(lambda: (b := beat_of(admin, "V-HB1")) and b["mode"] == "board"
                         and b["backlog"] == 0 and b)
        assert after["at"] > second["at"]
        with urllib.request.urlopen(base + "/status", timeout=5) as response:
            status = json.loads(response.read())
        assert status["last_beat_at"] and status["last_beat_error"] is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        finally:
            proc.kill()
    assert proc.returncode == 0, (tmp_path / "validator.log").read_text()


def test_a_validator_cannot_write_another_validators_heartbeat(
        make_validator, redis_server, admin, tmp_path):
    acl.create(redis_server.url, "V1", tmp_path / "v1.password")
    acl.create(redis_server.url, "V2", tmp_path / "v2.password")
    password = (tmp_path / "v1.password").read_text().strip()
    device = make_validator("V1")
    client = connect(redis_server.url, username="V1", password=password)
    try:
        own = Syncer(device.journal, device.lists, client, validator_id="V1",
                     heartbeat=Heartbeat(device))
        own.beat_once()
        assert beat_of(admin, "V1")["validator"] == "V1"

        # A validator set up to pass for V2: its beat is refused, and nothing is written.
        forger = Syncer(device.journal, device.lists, client, validator_id="V2",
                        heartbeat=Heartbeat(device))
        with pytest.raises(redis.ResponseError, match="(?i)noperm|no permissions"):
            forger.beat_once()
        fake = json.dumps({"validator": "V2", "backlog": 0})
        for command in (("SET", heartbeat("V2"), fake), ("XADD", heartbeat("V2"), "*", "beat", fake),
                        ("XRANGE", heartbeat("V2"), "-", "+"), ("DEL", heartbeat("V2")),
                        ("EXPIRE", heartbeat("V2"), "1"), ("HSET", heartbeat("V2"), "at", "1"),
                        ("APPEND", heartbeat("V2"), "x"),
                        # Its own key, only as the heartbeat writes it.
                        ("DEL", heartbeat("V1")), ("SET", heartbeat("V1"), fake),
                        ("PERSIST", heartbeat("V1")),
                        # XADD reaches no other key: it would add to the trips stream.
                        ("XADD", TRIPS_STREAM, "*", "trip", "{}"), ("SET", TRUST_LIST, "{}")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
        for key in (heartbeat("V2"), TRIPS_STREAM, TRUST_LIST):
            with pytest.raises(redis.ResponseError,
                               match="(?i)noperm|no permissions|can't access"):
                client.fcall("vexe_beat", 1, key, '{"validator":"V2"}', 60)
    finally:
        client.close()
    assert admin.exists(heartbeat("V2")) == 0
    assert admin.exists(TRIPS_STREAM) == 0 and admin.get(TRUST_LIST) is None
    assert admin.ttl(heartbeat("V1")) > 0


def test_a_refused_heartbeat_does_not_stop_the_sync(make_validator, issuer, redis_server, admin):
    """A validator whose Redis user lacks the heartbeat's rights (its last selector): its
    beats are refused, its trips still go."""
    before_heartbeats = acl_rules(None, "V1").rpartition(" (")[0]
    admin.execute_command("ACL", "SETUSER", "V1", "reset", "on", ">secret",
                          *before_heartbeats.split())
    device = make_validator("V1")
    client = connect(redis_server.url, username="V1", password="secret")
    syncer = Syncer(device.journal, device.lists, client, validator_id="V1", clock=device.clock,
                    push_every=0.05, heartbeat=Heartbeat(device, every=0.05))
    stop, thread = start(syncer)
    try:
        scans = []
        for _ in range(3):
            now = clock.now()
            scans.append(device.scan(issuer.rider(now=now).qr(now), now))
        assert all(scan.accepted for scan in scans)
        wait_for(lambda: device.journal.backlog() == 0)
        wait_for(lambda: syncer.last_beat_error is not None)
        assert "can't run this command" in syncer.last_beat_error
        assert syncer.last_error is None and thread.is_alive()
        now = clock.now()
        assert device.scan(issuer.rider(now=now).qr(now), now).accepted
        wait_for(lambda: device.journal.backlog() == 0)
    finally:
        stop.set()
        thread.join(10)
        client.close()
    assert [t.id for t in stream_trips(admin)][:3] == [s.trip.id for s in scans]
    assert admin.exists(heartbeat("V1")) == 0


def test_redis_away_scanning_goes_on_and_the_beats_come_back(
        make_validator, issuer, redis_server, admin):
    device = make_validator("V1")
    client = connect(redis_server.url)
    syncer = Syncer(device.journal, device.lists, client, validator_id="V1", clock=device.clock,
                    push_every=0.05, backoff=ExponentialBackoff(cap=0.4, base=0.05),
                    heartbeat=Heartbeat(device, every=0.05))
    stop, thread = start(syncer)
    try:
        wait_for(lambda: beat_of(admin, "V1"))
        redis_server.stop()
        for _ in range(5):
            now = clock.now()
            assert device.scan(issuer.rider(now=now).qr(now), now).accepted
        wait_for(lambda: syncer.last_error is not None)
        assert device.journal.backlog() == 5 and thread.is_alive()

        redis_server.start()  # an empty Redis: it kept nothing
        fresh = redis.Redis.from_url(redis_server.url)
        try:
            beat = wait_for(lambda: (b := beat_of(fresh, "V1")) and b["backlog"] == 0 and b)
            assert len(stream_trips(fresh)) == 5 and beat["oldest_unsent_ms"] is None
        finally:
            fresh.close()
        assert syncer.last_beat_error is None
    finally:
        stop.set()
        thread.join(10)
        client.close()


def test_trips_redis_cannot_yet_keep_are_in_the_beat(make_validator, issuer, redis_server, admin):
    """Redis answers but no replica confirms the pushes: the trips stay unsent on the bus,
    and the heartbeat says how many and since when, and how little room the journal has."""
    device = make_validator("V1", journal_max_bytes=512 * 1024)
    client = connect(redis_server.url)
    syncer = Syncer(device.journal, device.lists, client, validator_id="V1", clock=device.clock,
                    push_every=0.05, backoff=ExponentialBackoff(cap=0.1, base=0.05),
                    min_replicas=1, replica_wait_ms=10, heartbeat=Heartbeat(device, every=0.05))
    earlier = clock.now() - 1200  # a scan the bus judged twenty minutes ago
    first = device.scan(issuer.rider(now=earlier).qr(earlier), earlier)
    for _ in range(2):
        now = clock.now()
        device.scan(issuer.rider(now=now).qr(now), now)
    stop, thread = start(syncer)
    try:
        beat = wait_for(lambda: beat_of(admin, "V1"))
        assert syncer.last_error and "replica" in syncer.last_error
        assert beat["backlog"] == 3 and beat["oldest_unsent_ms"] == first.trip.at_ms
        assert beat["storage_free_bytes"] == 512 * 1024 - beat["journal_bytes"]
    finally:
        stop.set()
        thread.join(10)
        client.close()
