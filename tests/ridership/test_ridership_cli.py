"""``vexe ingest run`` as a process that is killed, ``vexe company`` and ``vexe vehicle``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.platform import db
from ridership_testkit import T0
from tests.testkit import wait_for

VEXE = str(Path(sys.executable).parent / "vexe")  # the console script pip installed


@pytest.fixture
def env(migrated, redis_url, tmp_path):
    return {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_url,
            "VEXE_DATA_DIR": str(tmp_path / "data")}


def vexe(env, *args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([VEXE, *args], env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def scalar(url: str, sql: str) -> int:
    with db.engine(url).connect() as conn:
        return conn.execute(sa.text(sql)).scalar() or 0


class TestKilledWorker:
    def test_a_worker_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
            self, env, stream, maker, migrated):
        """kill -9 lands wherever it lands: between reading and committing, or between
        committing and acknowledging. Another worker takes over the pending entries."""
        n = 20_000
        trips = [maker.board(pass_id=f"P{i:09d}", at_ms=T0 + i * 50,
                             vehicle=f"29B-{i % 40:03d}.01") for i in range(n)]
        for i in range(0, n, 5000):
            stream.push(*trips[i:i + 5000])
        proc = subprocess.Popen([VEXE, "ingest", "run",
                                 "--consumer", "doomed", "--batch", "700"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") > 0
                     or proc.poll() is not None, timeout=60, what="the worker's first batch")
            assert proc.poll() is None, "the worker ended before it was killed"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        written = scalar(migrated, "SELECT COUNT(*) FROM trips")
        assert 0 < written < n, "the kill should land mid-stream"
        time.sleep(0.3)
        out = json.loads(vexe(env, "ingest", "run", "--consumer", "heir", "--claim-idle", "0.2",
                              "--once").stdout)
        assert out["consumer"] == "heir" and out["entries"] >= n - written
        assert stream.pending() == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == n
        assert scalar(migrated, "SELECT SUM(boardings) FROM ride_hour") == n
        assert scalar(migrated, "SELECT SUM(boardings) FROM ride_day_vehicle") == n

    def test_sigterm_finishes_the_batch_and_stops(self, env, stream, maker, migrated):
        stream.push(maker.board())
        proc = subprocess.Popen([VEXE, "ingest", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") > 0,
                 what="the worker's first trip")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert stream.pending() == 0


class TestFleet:
    def test_companies_and_vehicles(self, env, migrated):
        assert json.loads(vexe(env, "company", "add", "transerco", "--name",
                               "Tổng công ty Vận tải Hà Nội").stdout)["code"] == "TRANSERCO"
        vehicle = json.loads(vexe(env, "vehicle", "add", "29b-123.45", "--company",
                                  "TRANSERCO").stdout)
        assert vehicle == {"code": "29B-123.45", "company": "TRANSERCO"}
        listed = json.loads(vexe(env, "vehicle", "list", "--company", "transerco").stdout)
        assert listed == [vehicle]
        # Each add is audited in the log, naming the system user who ran the command.
        assert scalar(migrated, "SELECT COUNT(*) FROM audit_log WHERE actor LIKE 'cli%' AND "
                      "action IN ('company.add', 'vehicle.add')") == 2

    @pytest.mark.parametrize("args, code, message", [
        (("company", "add", "a b", "--name", "X"), 2, "company code must match"),
        (("company", "add", "ok", "--name", " "), 2, "company name must be 1 to 200"),
        (("vehicle", "add", "29B-1", "--company", "NOPE"), 2, "no company 'NOPE'"),
        (("vehicle", "add", "29B/1", "--company", "NOPE"), 2, "vehicle code must match"),
    ])
    def test_bad_input_is_one_line_and_changes_nothing(self, env, migrated, args, code,
                                                       message):
        result = vexe(env, *args, check=False)
        assert result.returncode == code and result.stdout == ""
        assert result.stderr.startswith("vexe: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert scalar(migrated, "SELECT COUNT(*) FROM companies") == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM vehicles") == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM audit_log") == 0

    def test_a_company_twice_is_a_conflict(self, env):
        vexe(env, "company", "add", "BAOYEN", "--name", "Bảo Yến")
        result = vexe(env, "company", "add", "baoyen", "--name", "Other", check=False)
        assert result.returncode == 2 and "already exists" in result.stderr

    def test_ingest_on_a_database_not_set_up(self, env, tmp_path):
        env = {**env, "VEXE_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
        result = vexe(env, "ingest", "run", "--once", check=False)
        assert result.returncode == 1 and "vexe init" in result.stderr
