"""Servers restarted under the issuer: PostgreSQL stopped (cleanly and as a crash) and started
again under gunicorn workers; Redis killed under the issuer and under the ingest.

Requests while the database is away get a 503 in JSON with Retry-After, never a 500 or a
stack trace; once it is back the same workers answer again, restarted by nobody.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hardening_testkit import PrivatePostgres, environment
from tests.testkit import free_port, wait_for

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
VEXE = str(Path(sys.executable).parent / "vexe")


def call(url: str, token: str | None = None, method: str = "GET", body: dict | None = None):
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}  # its words read in English
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def issuer(tmp_path, postgres, redis_url):
    """``vexe init`` on the private cluster, then gunicorn with two workers on it."""
    env = environment(VEXE_DATA_DIR=str(tmp_path / "data"), VEXE_DATABASE_URL=postgres.url,
                      VEXE_REDIS_URL=redis_url)
    init = subprocess.run([VEXE, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([GUNICORN, "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60",
                             "issuer:create_app()"], env=env, stdout=log, stderr=log)
    log.close()
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return call(base + "/healthz")[0] == 200
        except OSError:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            return False

    try:
        wait_for(up, timeout=60, what="gunicorn up")
        token = (tmp_path / "data" / "operator.token").read_text().strip()
        yield base, token, tmp_path / "gunicorn.log"
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_restarted_under_the_issuer(issuer, postgres, mode):
    base, token, log = issuer
    assert call(base + "/api/routes", token, "POST", {"code": "32", "name": "Giáp Bát"})[0] == 201
    # Every worker holds a pooled connection before the database goes.
    for _ in range(6):
        assert call(base + "/api/routes", token)[0] == 200

    postgres.stop(mode)
    answers = [call(base + path, token, method, body) for _ in range(3)
               for path, method, body in (
                   ("/api/routes", "GET", None), ("/readyz", "GET", None),
                   ("/api/routes", "POST", {"code": "09", "name": "Trần Khánh Dư"}),
                   ("/.well-known/jwks.json", "GET", None), ("/console/counter/", "GET", None))]
    for status, headers, body in answers:
        assert status == 503, (status, body)
        assert headers.get("Retry-After") == "5"
        assert "Traceback" not in body and "psycopg" not in body and "sqlalchemy" not in body
        # A read says the database is away; a change says, too, that nothing of it was kept.
        assert ("the database is unavailable; try again shortly" in body
                or "nothing was saved" in body and "try again shortly" in body
                or json.loads(body)["failed"] == ["database"]), body  # /readyz
    # Alive all the while: nothing that watches /healthz restarts a server for the database.
    assert call(base + "/healthz")[0] == 200

    postgres.start()
    # The same workers, restarted by nobody: the pool drops the dead connections itself.
    statuses = [call(base + "/api/routes", token)[0] for _ in range(6)]
    assert statuses == [200] * 6
    created = call(base + "/api/routes", token, "POST", {"code": "09", "name": "Trần Khánh Dư"})
    assert created[0] == 201
    assert "Traceback" not in log.read_text()
