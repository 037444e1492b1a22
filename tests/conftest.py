"""Fixtures shared by every test: real Redis servers and real databases, no fakes.

- ``redis_url``: the machine's Redis (127.0.0.1:6379), database ``VEXE_TEST_REDIS_DB``
  (default 15; each pytest-xdist worker its own below it), flushed before each test, with
  the functions validators call loaded.
- ``redis_server``: a private ``redis-server`` on a free port that a test may stop and start.
- ``database_url``: parametrized over SQLite (a file in tmp_path) and PostgreSQL (a fresh
  schema in database ``test`` on 127.0.0.1:5432, dropped after the test).
- ``chromium``: the module's Chromium (one launch a module: a second or two each), with no
  context (window, cookie, storage) left from another test. The card's tests have their own
  (tests/card/conftest.py).
- ``schema_templates``: brings a scratch database to the newest revision by copying one
  migrated once per process (testkit.SchemaTemplates), not by running every migration.
"""

from __future__ import annotations

import os

import pytest
import redis

from shared import redis_functions
from tests.testkit import (CHROMIUM, CHROMIUM_ARGS, RedisServer, SchemaTemplates,
                           scratch_database)

REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("VEXE_TEST_REDIS_PORT", "6379"))
# The suite runs in two processes (pytest-xdist, ``-n 2`` in pyproject.toml), each flushing
# its own database: worker n takes 15 - 2n, so that none takes 14, the load tests' own
# (loadtests/system.py).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
REDIS_DB = int(os.environ.get("VEXE_TEST_REDIS_DB", "15")) - 2 * _WORKER


@pytest.fixture
def redis_url():
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    redis_functions.load(client)  # server-wide, as the operator loads them
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory):
    """Migrated databases to copy (testkit.SchemaTemplates), one set per process."""
    return SchemaTemplates(tmp_path_factory.mktemp("schema-templates"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def launched_chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)
        yield browser
        browser.close()


@pytest.fixture
def chromium(launched_chromium):
    """The module's Chromium; each test's contexts are closed after it."""
    yield launched_chromium
    for context in launched_chromium.contexts:
        context.close()
