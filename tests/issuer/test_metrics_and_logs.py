"""The issuer as deployed (gunicorn, two workers, the shipped settings): ``/metrics`` counts
what both workers did, for an administrator's or analyst's token only; every request gets a
request id and one JSON access line; its own log lines are JSON with the request id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from shared import keys
from tests.testkit import free_port, scratch_database, wait_for

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
WORKERS = 2


@pytest.fixture
def database_url(tmp_path):
    """PostgreSQL: two workers write at once."""
    with scratch_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def gunicorn(tmp_path, initialised):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by the last run")  # must be emptied
    env = {k: v for k, v in os.environ.items()
           if k not in ("VEXE_LOG_FORMAT", "VEXE_LOG_LEVEL")}
    env.update(VEXE_DATA_DIR=initialised["DATA_DIR"],
               VEXE_DATABASE_URL=initialised["DATABASE_URL"],
               VEXE_REDIS_URL=initialised["REDIS_URL"], PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:  # not a terminal: JSON lines
        proc = subprocess.Popen([GUNICORN, "-c", "python:issuer.gunicorn_conf", "--workers",
                                 str(WORKERS), "--bind", f"127.0.0.1:{port}",
                                 "issuer:create_app()"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base, proc, log_path), timeout=60, what="gunicorn up")
        yield base, log_path, metrics_dir
    finally:
        proc.terminate()
        proc.wait(30)


def _healthy(base: str, proc, log_path: Path) -> bool:
    assert proc.poll() is None, log_path.read_text()
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def scrape(base: str, token: str) -> dict[tuple, float]:
    """The samples of /metrics: (name, sorted labels) -> value."""
    response = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def json_lines(log_path: Path) -> list[dict]:
    out = []
    for line in log_path.read_text().splitlines():
        out.append(json.loads(line))  # every line: a log shipper reads nothing else
    return out


class TestMetrics:
    def test_only_an_administrator_or_analyst_token_reads_them(self, gunicorn, api, cli):
        base, _, _ = gunicorn
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        rider_token, _ = api.rider_pass()
        forbidden = requests.get(f"{base}/metrics", timeout=5,
                                 headers={"Authorization": f"Bearer {rider_token}"})
        assert forbidden.status_code == 403
        cli.ok("operator", "create", "clerk1", "--role", "clerk")
        cli.ok("operator", "create", "analyst1", "--role", "analyst")
        clerk_token = cli.json("operator", "token", "clerk1", "--role", "clerk")["token"]
        analyst_token = cli.json("operator", "token", "analyst1", "--role", "analyst")["token"]
        assert requests.get(f"{base}/metrics", timeout=5, headers={
            "Authorization": f"Bearer {clerk_token}"}).status_code == 403
        scrape(base, analyst_token)

    def test_requests_from_both_workers_add_up(self, gunicorn, app):
        base, _, metrics_dir = gunicorn
        token = app.config["OPERATOR_TOKEN"]
        before = scrape(base, token)
        n = 0
        # New connections at once, in rounds until both workers have answered some: a
        # /healthz is so quick that one worker may take a whole round by itself.
        for _ in range(20):
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda _: requests.get(f"{base}/healthz", timeout=10)
                                         .status_code, range(40)))
            assert statuses == [200] * 40
            n += 40
            if len(list(metrics_dir.glob("counter_*.db"))) >= WORKERS:
                break
        after = scrape(base, token)
        name, labels = "vexe_issuer_requests_total", {"method": "GET", "endpoint": "/healthz",
                                                      "status": "200"}
        assert value(after, name, **labels) - value(before, name, **labels) == n
        # The rule, never the path: one series for every pass.
        assert not any("/api/passes/P" in str(key) for key in after)
        count = "vexe_issuer_request_seconds_count"
        assert value(after, count, method="GET", endpoint="/healthz") - value(
            before, count, method="GET", endpoint="/healthz") == n
        workers = {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}
        assert "1" not in workers  # the last run's file was removed at start
        assert len(workers) == WORKERS  # both counted, and /metrics added them up

    def test_credentials_minted_and_rate_limit_refusals(self, gunicorn, api, app, device):
        base, _, _ = gunicorn
        token = app.config["OPERATOR_TOKEN"]
        rider_token, p = api.rider_pass()
        headers = {"Authorization": f"Bearer {rider_token}"}
        before = scrape(base, token)
        bound = requests.post(f"{base}/api/passes/{p['id']}/device", headers=headers, timeout=10,
                              json={"public_key": keys.device_public_compressed(device)})
        assert bound.status_code == 201, bound.text
        statuses = [requests.post(f"{base}/api/passes/{p['id']}/credential", headers=headers,
                                  json={}, timeout=10).status_code for _ in range(24)]
        ok, refused_here = statuses.count(200), statuses.count(429)
        assert ok + refused_here == len(statuses) and refused_here >= 2  # 20 a minute
        after = scrape(base, token)
        minted = "vexe_issuer_credentials_minted_total"
        assert value(after, minted, binding="device") - value(before, minted,
                                                              binding="device") == 1 + ok
        refused = "vexe_issuer_rate_limited_total"
        rule = "/api/passes/<pass_id>/credential"
        assert (value(after, refused, endpoint=rule)
                - value(before, refused, endpoint=rule)) == refused_here
        assert value(after, "vexe_issuer_requests_total", method="POST", endpoint=rule,
                     status="429") - value(before, "vexe_issuer_requests_total", method="POST",
                                           endpoint=rule, status="429") == refused_here


class TestLogs:
    def test_request_id_and_json_access_line(self, gunicorn, api):
        base, log_path, _ = gunicorn
        rider_token, p = api.rider_pass()
        given = requests.get(f"{base}/api/passes/{p['id']}?access_token=secret-in-query",
                             headers={"Authorization": f"Bearer {rider_token}",
                                      "X-Request-Id": "req-123"}, timeout=10)
        assert given.status_code == 200
        assert given.headers["X-Request-Id"] == "req-123"
        made = requests.get(f"{base}/healthz", headers={"X-Request-Id": "bad id {forged}"},
                            timeout=10)
        minted = made.headers["X-Request-Id"]
        assert minted and minted != "bad id {forged}" and " " not in minted

        def access_lines():
            return [line for line in json_lines(log_path) if line["logger"] == "issuer.access"]

        wait_for(lambda: any(line.get("request_id") == minted for line in access_lines()),
                 timeout=10, what="the access line")
        line = next(line for line in access_lines() if line.get("request_id") == "req-123")
        assert line["level"] == "INFO" and line["time"].endswith("Z")
        assert (line["method"], line["rule"], line["path"], line["status"]) == (
            "GET", "/api/passes/<pass_id>", f"/api/passes/{p['id']}", 200)
        assert line["pass_id"] == p["id"] and line["duration_ms"] >= 0
        text = log_path.read_text()
        assert "secret-in-query" not in text and rider_token not in text
        # A path no route has: one label for all of them; a line end in it stays escaped.
        assert requests.get(f"{base}/no-such%0Aforged", timeout=10).status_code == 404
        wait_for(lambda: any(line.get("rule") == "<none>" for line in access_lines()),
                 timeout=10, what="the 404's access line")
        unknown = next(line for line in access_lines() if line.get("rule") == "<none>")
        assert unknown["path"] == "/no-such\\x0aforged" and unknown["status"] == 404
        # gunicorn's own lines are JSON too (json_lines fails on any other line).
        assert any(line["logger"] == "gunicorn.error" for line in json_lines(log_path))
