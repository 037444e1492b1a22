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
import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hardening")]

import cluster_faultkit  # noqa: E402  (after the path above)
from hardening_testkit import RedisClusterProcesses  # noqa: E402

PG_URL = os.environ.get("VEXE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
            if args.database == "sqlite":
                return _run(cluster, work, f"sqlite:///{work / 'vexe.db'}", plan)
            schema = f"soak_{uuid.uuid4().hex[:12]}"
            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
            try:
                return _run(cluster, work, f"{PG_URL}?options=-csearch_path%3D{schema}", plan)
            finally:
                with admin.begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
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
