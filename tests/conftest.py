"""Fixtures shared by every test: real Redis servers and real databases, no fakes.

- ``redis_url``: the machine's Redis (127.0.0.1:6379), database ``VEXE_TEST_REDIS_DB``
  (default 15; each pytest-xdist worker its own below it), flushed before each test.
- ``redis_server``: a private ``redis-server`` on a free port that a test may stop and start.
- ``database_url``: parametrized over SQLite (a file in tmp_path) and PostgreSQL (a fresh
  schema in database ``test`` on 127.0.0.1:5432, dropped after the test).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
import sqlalchemy as sa

REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("VEXE_TEST_REDIS_PORT", "6379"))
# The suite runs in two processes (pytest-xdist, ``-n 2`` in pyproject.toml), each flushing
# its own database: worker n takes 15 - 2n, so that none takes 14, the load tests' own
# (loadtests/system.py).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
REDIS_DB = int(os.environ.get("VEXE_TEST_REDIS_DB", "15")) - 2 * _WORKER
PG_URL = os.environ.get("VEXE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url():
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server process that a test can stop and start again on one port."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vexe.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
