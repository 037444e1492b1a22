"""A long soak of the trips on a real Redis Cluster: validators pushing to their shards, an
ingest worker per shard, masters killed with SIGKILL and failed over again and again; every
count checked exactly at the end.

    .venv/bin/python bench/soak_cluster.py                      # 20 failovers, PostgreSQL
    .venv/bin/python bench/soak_cluster.py --failovers 5 --database sqlite

Starts six redis-server processes (three masters, three replicas) on free loopback ports in
a temporary directory, and stops them at the end. For PostgreSQL it uses the suite's test
database (VEXE_TEST_PG_URL), in a schema of its own that it drops. Prints one JSON report;
exits 1 on any loss or double count. The suite runs one failover
(tests/hardening/test_cluster_trips.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hardening")]

import cluster_faultkit  # noqa: E402  (after the path above)
from hardening_testkit import RedisClusterProcesses  # noqa: E402
from tests.testkit import scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=20)
    parser.add_argument("--validators", type=int, default=6)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of work before the first kill and after each failover")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    plan = cluster_faultkit.Plan(validators=args.validators, shards=args.shards,
                                 failovers=args.failovers, settle=args.settle,
                                 scan_every=0.02)
    with tempfile.TemporaryDirectory(prefix="vexe-cluster-soak-") as tmp:
        work = Path(tmp)
        cluster = RedisClusterProcesses(work / "cluster")
        try:
            cluster.create()
            with scratch_database(args.database, work) as url:
                return _run(cluster, work, url, plan)
        finally:
            cluster.stop()


def _run(cluster, work: Path, url: str, plan) -> int:
    try:
        cluster_faultkit.run(cluster, work, url, plan)
    except AssertionError as exc:
        print(f"LOSS OR DOUBLE COUNT: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
