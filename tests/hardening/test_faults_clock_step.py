"""A validator's clock stepped while it runs (an NTP or GPS correction, a technician), online
and offline.

The step is real: the validator runs under libfaketime reading its offset from a file on
every clock call (FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE), and the test rewrites the
file; the steady clock is not faked (FAKETIME_DONT_FAKE_MONOTONIC), as a step leaves it
alone. Redis keeps the machine's time, and so do the riders' phones.
"""

from __future__ import annotations

import glob
import subprocess

import pytest
import redis

from shared import clock
from shared.redis_keys import TRUST_LIST
from validator.journal import Journal
from hardening_testkit import VEXE, environment, http_json
from test_faults_clock import stop
from tests.testkit import ROUTE, Issuer, free_port, wait_for

HOUR = 3600


@pytest.fixture
def libfaketime():
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.skip("libfaketime is not installed (Debian package faketime)")
    started: list[subprocess.Popen] = []
    yield found[0], started
    for proc in started:
        stop(proc)


class SteppedValidator:
    """``vexe validator run`` whose device clock the test can step."""

    def __init__(self, libfaketime, tmp_path, redis_url: str, validator_id: str):
        library, started = libfaketime
        self.offset_file = tmp_path / "faketime"
        self.offset_file.write_text("+0s\n")
        port = free_port()
        self.log = tmp_path / f"{validator_id}.log"
        env = environment(LD_PRELOAD=library, FAKETIME_TIMESTAMP_FILE=str(self.offset_file),
                          FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                          VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=redis_url)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [VEXE, "validator", "run", "--id", validator_id, "--vehicle", "29B-777.77",
                 "--route", ROUTE, "--no-stdin", "--http-port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        started.append(self.proc)
        self.base = f"http://127.0.0.1:{port}"
        self.journal = tmp_path / f"validator-{validator_id}" / "journal.db"
        wait_for(self._up, what="validator HTTP")

    def _up(self):
        try:
            return http_json("GET", self.base + "/status")[1]
        except OSError:
            assert self.proc.poll() is None, self.log.read_text()
            return None

    def step(self, seconds: int) -> None:
        self.offset_file.write_text(f"{seconds:+d}s\n")

    def status(self) -> dict:
        return http_json("GET", self.base + "/status")[1]

    def screen(self) -> dict:
        return http_json("GET", self.base + "/kiosk/state")[1]

    def scan(self, qr: str) -> dict:
        return http_json("POST", self.base + "/scan", {"qr": qr})[1]


def checked(validator: SteppedValidator, offset: float) -> dict:
    """Wait until the clock has been measured against Redis at about ``offset``."""
    return wait_for(lambda: (s := validator.status())["clock_offset"] is not None
                    and abs(s["clock_offset"] - offset) < 1.5 and s, timeout=60,
                    what="clock checked")


@pytest.mark.parametrize("step", [-HOUR, HOUR])
def test_online_a_step_is_measured_again_at_once(libfaketime, tmp_path, redis_server, step):
    """The step is noticed and Redis asked again within seconds, not at the next pull an
    hour (of the old clock) later: every fresh QR is accepted throughout, trips carry the
    network's time, and GET /status shows the new offset."""
    issuer = Issuer()
    admin = redis.Redis.from_url(redis_server.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    validator = SteppedValidator(libfaketime, tmp_path, redis_server.url, "STEP1")
    try:
        before = checked(validator, 0)
        now = clock.now()
        assert validator.scan(issuer.rider(now=now).qr(now))["decision"] == "accept"
        validator.step(step)
        now = clock.now()
        first = validator.scan(issuer.rider(now=now).qr(now))  # as soon as it has stepped
        assert first["decision"] == "accept", first
        after = checked(validator, -step)
        assert after["clock_state"] == "checked"
        assert after["clock_offset_applied"] == pytest.approx(-step, abs=1.5)
        assert after["clock_checked_at"] != before["clock_checked_at"]
        assert after["online"] is True
        for _ in range(5):
            now = clock.now()
            answer = validator.scan(issuer.rider(now=now).qr(now))
            assert answer["decision"] == "accept", answer
        stale = validator.scan(issuer.rider(now=now).qr(now - 60))
        assert stale["reason"] == "stale_proof"  # the window still holds
        assert "device clock stepped" in validator.log.read_text()
    finally:
        stop(validator.proc)
        admin.close()
    with Journal(validator.journal) as journal:
        trips = journal.trips()
    assert [t.reason for t in trips] == ["ok"] * 7 + ["stale_proof"]
    assert all(abs(t.at_ms / 1000 - clock.now()) < 120 for t in trips)  # the network's time


@pytest.mark.parametrize("step", [-HOUR, HOUR])
def test_offline_a_step_is_carried_by_the_steady_clock_and_shown(libfaketime, tmp_path,
                                                                redis_server, step):
    """Redis away when the clock steps: the time measured before is carried across the step
    by the steady clock, so fresh QRs are still accepted and old ones refused; GET /status and
    the screen say the clock is not confirmed. Once Redis is back it is measured again."""
    issuer = Issuer()
    admin = redis.Redis.from_url(redis_server.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    admin.close()
    validator = SteppedValidator(libfaketime, tmp_path, redis_server.url, "STEP2")
    try:
        checked(validator, 0)
        redis_server.stop()
        wait_for(lambda: validator.status()["online"] is False, what="offline")
        validator.step(step)
        now = clock.now()
        fresh = validator.scan(issuer.rider(now=now).qr(now))
        assert fresh["decision"] == "accept", fresh
        stale = validator.scan(issuer.rider(now=now).qr(now - 60))
        assert stale["reason"] == "stale_proof"
        status = validator.status()
        assert status["clock_state"] == "stepped" and status["online"] is False
        assert status["clock_step"] == pytest.approx(step, abs=1.5)
        assert status["clock_offset"] is None  # unknown until measured again
        assert status["clock_offset_applied"] == pytest.approx(-step, abs=1.5)
        assert validator.screen()["clock"] == "stepped"
        redis_server.start()
        assert checked(validator, -step)["clock_state"] == "checked"
        assert validator.screen()["clock"] == "checked"
    finally:
        stop(validator.proc)
    with Journal(validator.journal) as journal:
        trips = journal.trips()
    assert [t.reason for t in trips] == ["ok", "stale_proof"]
    assert abs(trips[0].at_ms / 1000 - now) < 5  # judged and dated by the carried time
