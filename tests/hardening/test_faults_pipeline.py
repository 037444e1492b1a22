"""Faults with exact counts: Redis killed and away while validators keep scanning, ingest
workers killed with SIGKILL wherever they are; nothing answered is lost, nothing is counted
twice. The long version of this run is bench/soak_faults.py."""

from __future__ import annotations

import faultkit


def test_redis_away_and_ingest_killed_nothing_lost_nothing_twice(tmp_path, database_url):
    report = faultkit.run(tmp_path, database_url, faultkit.Plan(
        validators=3, seconds=8.0, outages=1, outage_seconds=3.0, ingest_kills=3, seed=7))
    assert report.redis_kills == 1 and report.ingest_kills == 3
    assert report.scans > 300 and report.refused > 0
