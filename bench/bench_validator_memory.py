"""The validator's resident memory after 100,000 scans, and its start-up time.

    .venv/bin/python bench/bench_validator_memory.py [--scans 100000] [--dir /path]

Starts ``python -m validator run --config FILE`` as on a bus (scanner on standard input, no
HTTP, Redis unreachable so the journal keeps every scan), measures the time to its first
decision, feeds it ``--scans`` QR texts of 2,000 different passes (each fresh for the clock
of the moment it is made; a tenth of them refused for a reason or another), and reads the
process's resident set (VmRSS) at start, every 10,000 scans and at the end. Targets: at
most 60 MB resident after 100,000 scans, start-up under one second.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "validator")]

from validator_testkit import Issuer  # noqa: E402

from shared import clock  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=100_000)
    parser.add_argument("--dir", default=None, help="where the journal goes (the device's disk)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vexe-memory-", dir=args.dir))
    (home / "validator-M1").mkdir()
    issuer = Issuer()
    (home / "validator-M1" / "trust.json").write_text(issuer.trust.dumps())
    config = home / "validator.toml"
    config.write_text(f'[validator]\nid = "M1"\nvehicle = "29B-MEM"\ndata_dir = "{home}"\n'
                      '[position]\nroute = "32"\n[redis]\nurl = "redis://127.0.0.1:1/0"\n'
                      '[http]\nport = 0\n[input]\nscanner = "stdin"\n')
    now = clock.now()
    riders = [issuer.rider(now=now) for _ in range(2000)]

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "validator", "run", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
    proc.stdin.write(riders[0].qr(clock.now()) + "\n")
    proc.stdout.readline()
    first_decision = time.perf_counter() - started
    at_start = rss_mb(proc.pid)

    decisions = [1]
    reader = threading.Thread(target=lambda: decisions.extend(1 for _ in proc.stdout))
    reader.start()
    samples = []
    feed_started = time.perf_counter()
    for n in range(1, args.scans):
        rider = riders[n % len(riders)]
        # Every tenth scan an old screenshot: refused, journaled all the same.
        at = clock.now() - (600 if n % 10 == 0 else 0)
        proc.stdin.write(rider.qr(at) + "\n")
        if n % 10_000 == 0:
            while len(decisions) < n:
                time.sleep(0.01)
            samples.append((n, rss_mb(proc.pid)))
    while len(decisions) < args.scans:
        time.sleep(0.05)
    elapsed = time.perf_counter() - feed_started
    at_end = rss_mb(proc.pid)
    proc.stdin.close()
    proc.wait(60)
    reader.join()

    print(f"first decision {first_decision:.3f} s after exec; resident then {at_start:.1f} MB")
    for n, mb in samples:
        print(f"  after {n:>7,} scans: {mb:5.1f} MB")
    print(f"after {args.scans:,} scans: {at_end:.1f} MB resident "
          f"({args.scans / elapsed:,.0f} scans/s including making each QR)")


if __name__ == "__main__":
    main()
