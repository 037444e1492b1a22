"""Clock trouble: a validator whose own clock is minutes off, time zones, the month boundary.

The wrong clock is real: the validator runs under libfaketime, which shifts every clock the
process reads; Redis keeps the machine's time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import redis

from shared import clock
from shared.denylist import Denylist
from shared.redis_keys import TRUST_LIST
from validator.journal import Journal
from hardening_testkit import VEXE, environment, http_json
from tests.testkit import ROUTE, Issuer, free_port, wait_for

SKEWS = [-300, 420]  # seconds: five minutes slow, seven minutes fast


@pytest.fixture
def faketime():
    """The faketime command; every process group started under it is ended after the test.

    faketime runs the program as its child and does not pass signals on: ending faketime
    alone would leave the validator running. Each is started in a session of its own and
    the whole group is signalled.
    """
    path = shutil.which("faketime")
    if path is None:
        pytest.skip("faketime is not installed (Debian package faketime)")
    started: list[subprocess.Popen] = []
    yield path, started
    for proc in started:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the group (faketime and the validator), until none of it is left; SIGKILL
    after 30 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            proc.poll()  # reap faketime: a zombie still counts in its group
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def start_skewed(faketime, tmp_path, redis_url, skew: int, validator_id: str):
    faketime, started = faketime
    port = free_port()
    log = open(tmp_path / f"{validator_id}.log", "wb")
    env = environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=redis_url,
                      FAKETIME_DONT_FAKE_MONOTONIC="1")
    proc = subprocess.Popen(
        [faketime, "-f", f"{skew:+d}s", VEXE, "validator", "run", "--id", validator_id,
         "--vehicle", "29B-555.55", "--route", ROUTE, "--no-stdin", "--http-port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    started.append(proc)
    log.close()
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return http_json("GET", base + "/status")[1]
        except OSError:
            assert proc.poll() is None, (tmp_path / f"{validator_id}.log").read_text()
            return None

    wait_for(up, what="validator HTTP")
    return proc, base


@pytest.mark.parametrize("skew", SKEWS)
def test_a_validator_minutes_off_judges_proofs_by_the_network_time(
        faketime, tmp_path, redis_server, skew):
    """Redis's TIME corrects the device clock: a fresh QR is accepted, a screenshot older
    than the window is still refused, the offset is in GET /status, and trips carry the
    network's time."""
    issuer = Issuer()
    admin = redis.Redis.from_url(redis_server.url)  # a Redis of its own: no one else flushes it
    admin.set(TRUST_LIST, issuer.trust.dumps())
    proc, base = start_skewed(faketime, tmp_path, redis_server.url, skew, "SKEW1")
    try:
        status = wait_for(lambda: (s := http_json("GET", base + "/status")[1])["clock_offset"]
                          is not None and s, what="clock measured")
        assert status["trust_list_size"] == 1
        assert status["clock_offset"] == pytest.approx(-skew, abs=1.5)
        assert status["clock_offset_applied"] == pytest.approx(-skew, abs=1.5)

        now = clock.now()  # the real time: the phone's clock is right
        fresh = http_json("POST", base + "/scan", {"qr": issuer.rider(now=now).qr(now)})[1]
        assert fresh["decision"] == "accept", fresh
        old = http_json("POST", base + "/scan", {"qr": issuer.rider(now=now).qr(now - 60)})[1]
        assert old["reason"] == "stale_proof"
        ahead = http_json("POST", base + "/scan", {"qr": issuer.rider(now=now).qr(now + 60)})[1]
        assert ahead["reason"] == "stale_proof"
        log = (tmp_path / "SKEW1.log").read_text()
        assert "clock is" in log and ("behind" if skew < 0 else "ahead of") in log
    finally:
        stop(proc)
        admin.close()
    with Journal(tmp_path / "validator-SKEW1" / "journal.db") as journal:
        trips = journal.trips()
    assert [t.reason for t in trips] == ["ok", "stale_proof", "stale_proof"]
    assert abs(trips[0].at_ms / 1000 - now) < 3  # the network's time, not the device's


def test_offline_with_a_wrong_clock_refuses_rather_than_guesses(faketime, tmp_path):
    """No Redis to ask: the device's own clock is all there is. Fresh proofs look stale and
    are refused; nothing is accepted on a guess. GET /status says the offset is unknown."""
    issuer = Issuer()
    home = tmp_path / "validator-SKEW2"
    home.mkdir()
    (home / "trust.json").write_text(issuer.trust.dumps())
    dead = f"redis://127.0.0.1:{free_port()}/0"
    proc, base = start_skewed(faketime, tmp_path, dead, -300, "SKEW2")
    try:
        now = clock.now()
        rider = issuer.rider(now=now - 3600)  # a credential from an hour ago, a proof from now
        answer = http_json("POST", base + "/scan", {"qr": rider.qr(now)})[1]
        assert answer["reason"] == "stale_proof"
        status = http_json("GET", base + "/status")[1]
        assert status["clock_offset"] is None and status["clock_offset_applied"] == 0
    finally:
        stop(proc)


# -- time zones and the month boundary -----------------------------------------------------

END_OF_NOVEMBER = clock.month_bounds(2026, 11)[1]  # 2026-11-30 17:00:00 UTC
ZONES = ["UTC", "Asia/Ho_Chi_Minh", "America/Los_Angeles", "Pacific/Kiritimati"]


def test_the_boundary_is_17_utc():
    assert END_OF_NOVEMBER == 1796058000  # date -u -d @1796058000: Mon Nov 30 17:00:00 UTC 2026


@pytest.mark.parametrize("zone", ZONES)
def test_the_month_boundary_does_not_depend_on_the_machines_time_zone(tmp_path, zone):
    """``vexe validate`` in a process whose TZ is each zone: a November pass at the last
    second before 17:00 UTC on 30 November and at 17:00:00 exactly, a December pass at both."""
    issuer = Issuer()
    trust = tmp_path / "trust.json"
    trust.write_text(issuer.trust.dumps())
    deny = tmp_path / "deny.json"
    deny.write_text(Denylist.empty().dumps())
    minted = END_OF_NOVEMBER - 3600
    november = issuer.rider(now=minted, month=(2026, 11))
    december = issuer.rider(now=minted, month=(2026, 12))
    results = {}
    for name, rider in (("november", november), ("december", december)):
        for at in (END_OF_NOVEMBER - 1, END_OF_NOVEMBER):
            out = subprocess.run(
                [VEXE, "validate", rider.qr(at), "--route", ROUTE, "--at", str(at),
                 "--trust", str(trust), "--denylist", str(deny)],
                env=environment(TZ=zone), capture_output=True, text=True, timeout=60)
            results[name, at - END_OF_NOVEMBER] = json.loads(out.stdout)["reason"]
    assert results == {("november", -1): "ok", ("november", 0): "outside_validity",
                       ("december", -1): "outside_validity", ("december", 0): "ok"}
