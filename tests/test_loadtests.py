"""Smoke runs of the Locust scenarios, so the locustfiles can't rot. Full runs are documented."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_validator_check_scenario_runs_without_failures(tmp_path):
    """A few seconds of the in-process validator scenario: every decision is the expected one."""
    locust = Path(sys.executable).parent / "locust"
    result = subprocess.run(
        [str(locust), "-f", str(ROOT / "loadtests" / "validator_check.py"), "--headless",
         "-u", "2", "-r", "2", "-t", "3s", "--only-summary", "--csv", str(tmp_path / "run"),
         "--exit-code-on-error", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    stats = (tmp_path / "run_stats.csv").read_text().splitlines()
    aggregated = next(line for line in stats if ",Aggregated," in line).split(",")
    requests, failures = int(aggregated[2]), int(aggregated[3])
    assert requests > 100 and failures == 0
