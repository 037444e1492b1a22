"""A running validator (``vexe validator run``): ``GET /metrics`` behind its door counts its
scans by reason, its backlog and its sync; its log is JSON lines naming it when not on a
terminal, text when it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared import clock
from shared.denylist import Denylist
from shared.redis_keys import DENYLIST
from tests.testkit import ROUTE, free_port, wait_for
from validator_testkit import publish_trust

VEXE = Path(sys.executable).parent / "vexe"


@pytest.fixture
def running(tmp_path, issuer, redis_url, redis_client):
    publish_trust(redis_client, issuer)
    redis_client.set(DENYLIST, Denylist(1_790_000_000, {}).dumps())
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXE_LOG_")}
    env.update(VEXE_REDIS_URL=redis_url, VEXE_DATA_DIR=str(tmp_path))
    port = free_port()
    log_path = tmp_path / "validator.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(VEXE), "validator", "run", "--id", "M1", "--vehicle",
                                 "29B-00042", "--route", ROUTE, "--no-stdin", "--http-port",
                                 str(port)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _pulled(base, proc, log_path), timeout=30, what="the first pull")
        yield base, log_path
    finally:
        proc.terminate()
        proc.wait(20)


def _pulled(base: str, proc, log_path: Path) -> bool:
    assert proc.poll() is None, log_path.read_text()
    try:
        return requests.get(f"{base}/status", timeout=2).json()["last_pull_at"] is not None
    except requests.RequestException:
        return False


def scrape(base: str) -> dict[tuple, float]:
    response = requests.get(f"{base}/metrics", timeout=5)
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def scan(base: str, qr: str) -> str:
    answer = requests.post(f"{base}/scan", json={"qr": qr}, timeout=5,
                           headers={"X-Vexe-Client": "test"})
    assert answer.status_code == 200
    return answer.json()["reason"]


def test_scans_by_reason_backlog_and_sync(running, issuer):
    base, _ = running
    now = clock.now()
    riders = [issuer.rider(now=now) for _ in range(3)]
    reasons = [scan(base, rider.qr(now)) for rider in riders]
    reasons += [scan(base, riders[0].qr(now)), scan(base, "VX1:not a ticket")]
    assert reasons == ["ok", "ok", "ok", "replayed", "malformed"]
    got = scrape(base)

    def scans(decision, reason):
        return got.get(("vexe_validator_scans_total",
                        (("decision", decision), ("reason", reason))))

    assert (scans("accept", "ok"), scans("refuse", "replayed"),
            scans("refuse", "malformed")) == (3, 1, 1)
    info = next(key for key in got if key[0] == "vexe_validator_info")
    assert dict(info[1]) == {"validator": "M1", "vehicle": "29B-00042", "route": ROUTE}
    assert got[("vexe_validator_storage_ok", ())] == 1
    assert got[("vexe_validator_denylist_issued_timestamp_seconds", ())] == 1_790_000_000
    assert got[("vexe_validator_trust_list_keys", ())] == 1
    assert got[("vexe_validator_last_pull_timestamp_seconds", ())] >= now - 60
    assert ("vexe_validator_clock_offset_applied_seconds", ()) in got
    # The sync pushes the five trips: the backlog goes down to 0, the last push is recent.
    wait_for(lambda: scrape(base)[("vexe_validator_journal_backlog", ())] == 0,
             what="the push")
    assert scrape(base)[("vexe_validator_last_push_timestamp_seconds", ())] >= now


def test_metrics_keep_the_door(running):
    base, _ = running
    foreign = requests.get(f"{base}/metrics", headers={"Host": "attacker.example"}, timeout=5)
    assert foreign.status_code == 403 and "vexe_" not in foreign.text


def test_json_log_lines_name_the_validator(running):
    _, log_path = running
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert lines, "the validator says when it starts"
    assert all(line["validator_id"] == "M1" and line["time"].endswith("Z") for line in lines)
