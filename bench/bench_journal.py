"""Scan to decision with the durable journal: p50 and p99, against its parts.

    .venv/bin/python bench/bench_journal.py [--scans 2000] [--dir /path/on/the/validator/disk]

``validator.device.Validator.scan`` decides on a QR (``check`` with the journal as its
history: replay and passback lookups) and writes the scan to the SQLite journal (WAL,
synchronous=FULL: one fsync per scan) before it answers. In the same run, on the same
disk, each part alone: ``check`` without history, ``check`` with the journal's lookups,
and ``Journal.record`` of a trip. Every scan is a different pass, all accepted. The fsync
dominates, so the figure belongs to the disk: run it on the validator's own storage.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from shared import b64, clock, keys, ticket
from shared.denylist import Denylist
from shared.trip import ACCEPT, Trip, new_trip_id
from validator.check import check
from validator.device import Validator
from validator.journal import Journal

NOW = 1795136400  # 2026-11-20 01:00:00 UTC
ROUTE = "32"


def make_pool(signing, count: int) -> list[str]:
    """``count`` fresh QRs, each of its own pass and phone."""
    month = clock.month_bounds(2026, 11)
    pool = []
    for n in range(count):
        device = keys.new_device_key()
        credential = ticket.mint_credential(
            signing, jti=b64.encode(os.urandom(6)), pass_id=f"B{n:09d}", product="S",
            routes=[ROUTE], valid_from=month[0], valid_until=month[1],
            device_key=keys.device_public_compressed(device), now=NOW - 3600)
        pool.append(ticket.encode_qr(credential, device, NOW))
    return pool


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
    return (f"p50 {at(0.50):7.3f}  p90 {at(0.90):7.3f}  p99 {at(0.99):7.3f}  "
            f"max {ordered[-1] * 1000:7.3f}  mean {statistics.mean(ordered) * 1000:7.3f}")


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


def filesystem(path: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[-1].split()
        return f"{out[1]} on {out[0]}"
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown filesystem"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="where the journal goes (default: a temp dir)")
    args = parser.parse_args()

    signing = keys.new_signing_key()
    trust = keys.TrustList([keys.TrustedKey(keys.key_id(signing), signing.public_key())])
    pool = make_pool(signing, args.scans)
    workdir = Path(tempfile.mkdtemp(prefix="vexe-bench-journal-", dir=args.dir))
    try:
        # 1. check alone, no history.
        denylist = Denylist.empty()
        alone = timed(lambda text: check(text, trust=trust, denylist=denylist, route=ROUTE,
                                         vehicle="29B-1", now=NOW), pool)

        # 2. Journal.record alone: the durable write of one trip.
        journal = Journal(workdir / "record-only.db")
        def record(n):
            at_ms = NOW * 1000 + n
            journal.record(Trip(id=new_trip_id(at_ms), validator="bench", vehicle="29B-1",
                                route=ROUTE, stop=None, at_ms=at_ms, decision=ACCEPT,
                                reason="ok", pass_id=f"B{n:09d}", product="single",
                                proof_at=NOW))
        writes = timed(record, range(args.scans))

        # 3. check with the journal's lookups (a journal of that many scans), no write.
        lookups = timed(lambda text: check(text, trust=trust, denylist=denylist, route=ROUTE,
                                           vehicle="29B-2", now=NOW, history=journal), pool)
        journal.close()

        # 4. The validator's scan: decide, journal, answer.
        validator = Validator(validator_id="bench", vehicle="29B-1", route=ROUTE,
                              data_dir=workdir / "validator")
        validator.lists.update_trust(trust.dumps())
        scans = timed(lambda text: validator.scan(text, NOW), pool)
        assert all(trip.decision == ACCEPT for trip in validator.journal.trips())
        validator.close()

        print(f"python {platform.python_version()}; {args.scans} scans; journal on "
              f"{filesystem(workdir)}; times in ms")
        print(f"  check(), no history                     {percentiles(alone)}")
        print(f"  check(), journal lookups                {percentiles(lookups)}")
        print(f"  Journal.record (WAL, synchronous=FULL)  {percentiles(writes)}")
        print(f"  Validator.scan: decide + journal        {percentiles(scans)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
