"""Fixtures of the hardening tests: a Redis Cluster of their own, and the issuer's (an app,
its client, the API as the operator) for the tests of its doors."""

from __future__ import annotations

import pytest

from hardening_testkit import RedisClusterProcesses
from tests.issuer.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    api,
    app,
    client,
    config,
    initialised,
    session,
)


@pytest.fixture
def cluster(tmp_path):
    """A real Redis Cluster of this test's own: three masters, each with a replica."""
    nodes = RedisClusterProcesses(tmp_path / "cluster")
    try:
        nodes.create()
        yield nodes
    finally:
        nodes.stop()
