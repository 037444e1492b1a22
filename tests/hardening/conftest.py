"""Fixtures of the hardening tests."""

from __future__ import annotations

import pytest

from hardening_testkit import RedisClusterProcesses


@pytest.fixture
def cluster(tmp_path):
    """A real Redis Cluster of this test's own: three masters, each with a replica."""
    nodes = RedisClusterProcesses(tmp_path / "cluster")
    try:
        nodes.create()
        yield nodes
    finally:
        nodes.stop()
