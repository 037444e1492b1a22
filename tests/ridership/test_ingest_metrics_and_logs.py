"""``vexe ingest run --metrics-port``: Prometheus metrics that move with the trips it writes,
read over HTTP from the running process; its log is JSON lines when not on a terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from issuer.platform import db
from tests.testkit import free_port, scratch_database, wait_for

VEXE = str(Path(sys.executable).parent / "vexe")


@pytest.fixture
def database_url(tmp_path):
    """SQLite alone: what is tested here does not depend on the database."""
    with scratch_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def running(migrated, redis_url, tmp_path):
    """``vexe ingest run`` with its metrics on a free port, its standard error in a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXE_LOG_")}
    env.update(VEXE_DATABASE_URL=migrated, VEXE_REDIS_URL=redis_url,
               VEXE_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    log_path = tmp_path / "ingest.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([VEXE, "ingest", "run", "--metrics-port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for(lambda: _up(url, proc, log_path), timeout=30, what="the ingest's metrics")
        yield url, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def _up(url: str, proc, log_path: Path) -> bool:
    assert proc.poll() is None, log_path.read_text()
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def scrape(url: str) -> dict[str, float]:
    text = requests.get(url, timeout=10).text
    return {s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if not s.labels or s.name.endswith("_count")}


def trips_in(url: str) -> int:
    with db.engine(url).connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM trips")).scalar()


class TestIngestMetrics:
    def test_counts_move_with_the_trips_written(self, running, stream, maker, migrated):
        url, _ = running
        wait_for(lambda: "vexe_ingest_lag" in scrape(url), what="the group made")
        before = scrape(url)
        assert before["vexe_ingest_redis_up"] == 1 and before["vexe_redis_used_memory_bytes"] > 0
        stream.push(*[maker.board(pass_id=f"P{i:09d}") for i in range(5)])
        stream.push_fields({"trip": "not a trip"})
        wait_for(lambda: scrape(url)["vexe_ingest_entries_rejected_total"] >
                 before["vexe_ingest_entries_rejected_total"], what="the batch written")
        after = scrape(url)
        assert trips_in(migrated) == 5

        def moved(name):
            return after[name] - before[name]

        assert moved("vexe_ingest_entries_read_total") == 6
        assert moved("vexe_ingest_trips_written_total") == 5
        assert moved("vexe_ingest_entries_rejected_total") == 1
        assert moved("vexe_ingest_batch_seconds_count") >= 1
        assert after["vexe_ingest_last_batch_timestamp_seconds"] > 0
        assert after["vexe_ingest_stream_length"] >= 6 and after["vexe_ingest_stream_bytes"] > 0
        assert (after["vexe_ingest_pending"], after["vexe_ingest_lag"]) == (0, 0)
        assert "vexe_issuer_" not in requests.get(url, timeout=10).text  # its own only

    def test_json_lines_when_not_on_a_terminal(self, running, stream):
        _, log_path = running
        stream.push_fields({"trip": "not a trip"})
        wait_for(lambda: "is not a trip" in log_path.read_text(), what="the warning")
        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        assert {line["logger"] for line in lines} >= {"backoffice.ingest"}
        warning = next(line for line in lines if "is not a trip" in line["message"])
        assert warning["level"] == "WARNING" and warning["time"].endswith("Z")
