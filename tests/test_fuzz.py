"""A short coverage-guided fuzzing run of the check in the suite, so the harness can't rot and
the corpus of valid QRs stays a starting point. Long runs are documented in fuzz/."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fuzzing_the_check_finds_nothing():
    """50,000 inputs grown from valid QRs: no exception, no forged acceptance."""
    result = subprocess.run([sys.executable, str(ROOT / "fuzz" / "fuzz_check.py"), "-runs=50000",
                             "-seed=1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done 50000 runs" in result.stderr
