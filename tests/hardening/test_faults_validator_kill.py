"""A validator killed with SIGKILL at random moments while it scans and syncs, many times over:
nothing it answered as accepted is missing from its journal, and nothing reaches Redis twice.

The validator is the real ``vexe validator run`` process; scans arrive by ``POST /scan`` as
fast as it answers, its sync pushes to Redis each second. A kill lands wherever it lands:
mid-scan, mid-push, between Redis taking a batch and the journal noting it.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter

import redis

from shared import clock
from shared.redis_keys import TRUST_LIST
from validator.journal import Journal
from validator.sync import marks_key
from hardening_testkit import VEXE, environment, http_json
from tests.testkit import ROUTE, Issuer, free_port, stream_trips, wait_for

# 12 in the suite; a long run: VEXE_VALIDATOR_KILLS=200 .venv/bin/pytest -s -k killed_at_random
KILLS = int(os.environ.get("VEXE_VALIDATOR_KILLS", "12"))


class Driver(threading.Thread):
    """Scans new riders' QRs one after another until the validator stops answering."""

    def __init__(self, base: str, issuer: Issuer, answers: list, cut: list):
        super().__init__(daemon=True)
        self.base, self.issuer, self.answers, self.cut = base, issuer, answers, cut

    def run(self) -> None:
        n = 0
        while True:
            now = clock.now()
            n += 1
            # Every fourth scan shows the previous QR again: a refusal to journal too.
            qr = self.qr if n % 4 == 0 else self.issuer.rider(now=now).qr(now)
            self.qr = qr
            try:
                status, answer = http_json("POST", self.base + "/scan", {"qr": qr}, timeout=5)
            except (OSError, http.client.HTTPException, ValueError):
                # Asked, never answered whole (refused, reset, or cut mid-answer): the rider
                # saw nothing.
                self.cut.append(1)
                return
            assert status == 200, answer
            self.answers.append(answer)


def start(tmp_path, redis_url: str, port: int, life: int) -> subprocess.Popen:
    log = open(tmp_path / f"life-{life}.log", "wb")
    proc = subprocess.Popen(
        [VEXE, "validator", "run", "--id", "K9", "--vehicle", "29B-999.99", "--route", ROUTE,
         "--no-stdin", "--http-port", str(port)],
        env=environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=redis_url),
        stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    return proc


def test_killed_at_random_many_times(tmp_path, redis_url):
    rng = random.Random(11)
    issuer = Issuer()
    admin = redis.Redis.from_url(redis_url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    home = tmp_path / "validator-K9"
    home.mkdir()
    (home / "trust.json").write_text(issuer.trust.dumps())
    answers: list[dict] = []
    cut: list[int] = []
    in_window = 0  # kills that fell after Redis took a batch, before the journal noted it
    try:
        for life in range(KILLS):
            port = free_port()
            proc = start(tmp_path, redis_url, port, life)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for(lambda: _answers(base), what="validator up")
            except BaseException:
                proc.kill()
                proc.wait(10)
                raise
            driver = Driver(base, issuer, answers, cut)
            driver.start()
            time.sleep(rng.uniform(0.3, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            driver.join(10)
            with Journal(home / "journal.db") as journal:
                hwm = int(admin.hget(marks_key("K9"), f"K9/{journal.epoch}") or 0)
                in_window += hwm > journal.pushed_seq
        # The last life: no HTTP, no scanner input; it pushes what is left and ends.
        last = subprocess.run(
            [VEXE, "validator", "run", "--id", "K9", "--vehicle", "29B-999.99", "--route",
             ROUTE, "--http-port", "0"], input=b"", capture_output=True, timeout=60,
            env=environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=redis_url))
        assert last.returncode == 0, last.stderr.decode()
        in_redis = stream_trips(admin)
    finally:
        admin.close()
    with Journal(home / "journal.db") as journal:
        journaled = journal.trips()
        assert journal.backlog() == 0

    shown_accepted = {a["trip_id"] for a in answers if a["decision"] == "accept"}
    journaled_ids = [t.id for t in journaled]
    print(f"\nvalidator SIGKILLs: {KILLS}; answers: {len(answers)} "
          f"({len(shown_accepted)} accepted); asked but cut by the kill: {len(cut)}; "
          f"journaled: {len(journaled)}; in Redis: {len(in_redis)}; kills between Redis "
          f"taking a batch and the journal noting it: {in_window}")
    assert shown_accepted <= set(journaled_ids)  # nothing shown as accepted is lost
    assert {a["trip_id"] for a in answers} <= set(journaled_ids)
    # At most the scans cut by a kill are journaled without an answer having been sent.
    assert len(answers) <= len(journaled) <= len(answers) + len(cut)
    assert max(Counter(t.id for t in in_redis).values()) == 1  # nothing twice
    assert in_redis == journaled  # everything, in journal order
    assert len(shown_accepted) > KILLS


def _answers(base: str) -> bool:
    try:
        return http_json("GET", base + "/healthz")[0] in (200, 503)
    except OSError:
        return False
