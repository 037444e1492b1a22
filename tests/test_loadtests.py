"""Smoke runs of every Locust scenario, seconds long, so the locustfiles can't rot. Full runs
are documented commands (`python -m loadtests.run`), not part of the suite."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args, seconds: int = 4) -> tuple[int, list[dict], str]:
    # Buses scan every 0.25 s here, not every 2 s: four buses for four seconds must make
    # enough requests to show the scenario works, on a slow machine too (9 at 2 s, once).
    env = {**os.environ, "VEXE_FLEET_SCAN_EVERY": "0.25"}
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.run", *args, "--users", "4", "--spawn-rate", "4",
         "--time", f"{seconds}s", "--riders", "12", "--workers", "2", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    [out] = list(tmp_path.iterdir())
    stats = out / "locust_stats.csv"
    rows = []
    if stats.exists():
        with stats.open() as f:
            rows = list(csv.DictReader(f))
    return result.returncode, rows, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", ["validator-check", "validator-http", "riders", "fleet",
                                      "console", "renewal"])
def test_each_scenario_runs_clean(tmp_path, scenario):
    """The scenario starts what it needs, runs without a single failure, and writes reports.

    Latency is not judged here: a few seconds on a machine busy with the rest of the suite
    say nothing about it (the documented full runs do, with the default bound)."""
    # The fleet's buses and the console's operators start slower than the others (a bus
    # opens its journal and its Redis user; an operator signs in): on a machine busy with
    # the rest of the suite, four seconds once ended before any of them had asked anything.
    # A renewal is a dozen requests and a payment: eight seconds make a few. The validator's
    # users read every phone's key from the pool before their first scan: on a busy machine,
    # four seconds once ended before any.
    seconds = (10 if scenario in ("fleet", "console", "validator-http")
               else 8 if scenario == "renewal" else 4)
    code, rows, output = run(tmp_path, scenario, "--max-p95-ms", "30000", seconds=seconds)
    assert code == 0, output[-3000:]
    total = next(row for row in rows if row["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 10 and int(total["Failure Count"]) == 0
    if scenario == "renewal":  # orders paid both ways, and next month reached the phones
        counts = {row["Name"]: int(row["Request Count"]) for row in rows}
        assert counts["/api/payments/bank-notifications"] > 0, output[-3000:]
        assert counts["gateway: pay"] > 0 and counts["renewal: next month on the phone"] > 0
    assert any(path.name == "report.html" for path in tmp_path.rglob("report.html"))
    assert left_running(tmp_path) == [], "a process the run started outlived it"


def left_running(workdir: Path) -> list[str]:
    """The processes still running in the run's directory (the system starts each there)."""
    left = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(workdir) and \
                    (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                left.append((proc / "cmdline").read_text().replace("\0", " ")[:120])
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return left


def test_the_fail_gate_trips(tmp_path):
    """A bound no run can meet makes the run exit non-zero."""
    code, _rows, output = run(tmp_path, "validator-check", "--max-fail-ratio", "-1")
    assert code == 1, output[-3000:]


def test_the_morning_peak_shape_ramps_holds_and_ends(tmp_path, monkeypatch):
    """--peak: users ramp to the peak, hold, ramp down, and the run ends by itself."""
    monkeypatch.setenv("VEXE_PEAK_USERS", "4")
    monkeypatch.setenv("VEXE_RAMP_S", "2")
    monkeypatch.setenv("VEXE_HOLD_S", "2")
    result = subprocess.run([sys.executable, "-m", "loadtests.run", "validator-check", "--peak",
                             "--results", str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    log = next(tmp_path.rglob("locust.log")).read_text()
    assert "Shape test updating to 4 users" in log and "Shape test stopping" in log
