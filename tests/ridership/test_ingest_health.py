"""``vexe ingest run --health-file``: a running worker's file says ready while the database
and Redis answer, not ready and why when Redis is stopped, and ready again once it is back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from backoffice import health
from shared.redis_keys import TRIPS_STREAM
from tests.testkit import wait_for

VEXE = str(Path(sys.executable).parent / "vexe")


def read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_health_file_follows_redis(migrated, redis_server, maker, tmp_path):
    path = tmp_path / "ingest.json"
    env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_server.url,
           "VEXE_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "ingest.log"
    with log.open("w") as out:
        proc = subprocess.Popen([VEXE, "ingest", "run", "--consumer", "w1", "--health-file",
                                 str(path)], env=env, stdout=out, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(redis_server.url)
    try:
        first = wait_for(lambda: read(path), timeout=60, what="the health file")
        assert first["consumer"] == "w1" and first["ready"] is True
        assert first["checks"] == {"database": "ok", "redis": "ok"}
        assert first["last_batch"] is None and first["failures"] == 0

        client.xadd(TRIPS_STREAM, {"trip": maker.board(at_ms=int(time.time() * 1000)).to_json()})
        written = wait_for(lambda: (r := read(path)) and r["last_batch"] and r, timeout=60,
                           what="a batch in the health file")
        assert written["ready"] is True and written["time"] >= written["last_batch"]

        redis_server.stop()
        down = wait_for(lambda: (r := read(path)) and not r["ready"] and r["failures"] and r,
                        timeout=60, what="not ready")
        assert down["checks"]["database"] == "ok"
        assert down["checks"]["redis"].startswith("unavailable: ")
        assert "Connection refused" in down["checks"]["redis"], down
        assert down["error"] and "Connection" in down["error"]
        assert time.time() - down["time"] < health.STALE_AFTER
        assert proc.poll() is None, log.read_text()

        redis_server.start()
        up = wait_for(lambda: (r := read(path)) and r["ready"] and not r["failures"] and r,
                      timeout=60, what="ready again")
        assert up["checks"] == {"database": "ok", "redis": "ok"} and up["error"] is None
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_health_file_that_cannot_be_written_is_one_line(migrated, redis_url, tmp_path):
    env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_url,
           "VEXE_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([VEXE, "ingest", "run", "--health-file",
                          str(tmp_path / "missing" / "ingest.json")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("vexe: No such file or directory: ")
