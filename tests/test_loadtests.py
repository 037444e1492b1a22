"""Smoke runs of every Locust scenario, seconds long, so the locustfiles can't rot. Full runs
are documented commands (`python -m loadtests.run`), not part of the suite."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args) -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.run", *args, "--users", "4", "--spawn-rate", "4",
         "--time", "4s", "--riders", "12", "--workers", "2", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    [out] = list(tmp_path.iterdir())
    stats = out / "locust_stats.csv"
    rows = []
    if stats.exists():
        with stats.open() as f:
            rows = list(csv.DictReader(f))
    return result.returncode, rows, result.stdout + result.stderr


@pytest.mark.parametrize("scenario, bounds", [
    ("validator-check", ()), ("validator-http", ()), ("riders", ()), ("fleet", ()),
    # An operator's sign-in hashes the password on purpose (scrypt): slow by design.
    ("console", ("--max-p95-ms", "3000")),
])
def test_each_scenario_runs_clean(tmp_path, scenario, bounds):
    """The scenario starts what it needs, runs, passes the fail gate, and writes reports."""
    code, rows, output = run(tmp_path, scenario, *bounds)
    assert code == 0, output[-3000:]
    total = next(row for row in rows if row["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 10 and int(total["Failure Count"]) == 0
    assert any(path.name == "report.html" for path in tmp_path.rglob("report.html"))


def test_the_fail_gate_trips(tmp_path):
    """A bound no run can meet makes the run exit non-zero."""
    code, _rows, output = run(tmp_path, "validator-check", "--max-fail-ratio", "-1")
    assert code == 1, output[-3000:]
