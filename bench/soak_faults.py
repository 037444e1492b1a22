"""A long fault soak of the trip pipeline: validators scanning riders on at the front door and
off at the rear, Redis killed and away again and again, ingest workers killed with SIGKILL;
at the end a last worker drains the stream (``vexe ingest run --once``) and every count is
checked exactly: trips, rollups, and a journey closed for each rider who got off.

    .venv/bin/python bench/soak_faults.py                       # 10 min, PostgreSQL
    .venv/bin/python bench/soak_faults.py --seconds 60 --outages 3 --database sqlite

Needs redis-server on the PATH and, for PostgreSQL, the test database of the suite
(VEXE_TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test); it works in
a schema of its own and drops it. Prints one JSON report; exits 1 on any loss or double
count. The suite runs a short version (tests/hardening/test_faults_pipeline.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hardening")]

import faultkit  # noqa: E402  (after the path above)
from tests.testkit import scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--outages", type=int, default=20)
    parser.add_argument("--outage-seconds", type=float, default=10)
    parser.add_argument("--ingest-kills", type=int, default=60)
    parser.add_argument("--scan-every", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    plan = faultkit.Plan(validators=args.validators, seconds=args.seconds,
                         scan_every=args.scan_every, outages=args.outages,
                         outage_seconds=args.outage_seconds, ingest_kills=args.ingest_kills,
                         seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="vexe-soak-") as tmp:
        work = Path(tmp)
        with scratch_database(args.database, work) as url:
            return _run(work, url, plan)


def _run(work: Path, url: str, plan: faultkit.Plan) -> int:
    try:
        faultkit.run(work, url, plan)
    except AssertionError as exc:
        print(f"LOSS OR DOUBLE COUNT: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
