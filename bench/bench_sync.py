"""Trips pushed to Redis per second: the idempotent push against plain XADD.

    .venv/bin/python bench/bench_sync.py [--redis redis://127.0.0.1:6379/3] [--trips 20000]

In one run, on the same trips (JSON as validators journal them):

1. the validator's push (validator.sync.Syncer.push_all): journal -> one call of the
   ``vexe_push`` function per batch of 500, 4 batches pipelined per round, high-water mark
   per journal, marked in the journal after Redis answers; the trips land in the
   validator's inbox;
1b. the ingest's move of that inbox into the stream (backoffice.inbox), what a trip
   costs Redis besides its push;
2. the same loop with plain pipelined XADD (no idempotency): what the function costs;
3. plain pipelined XADD from memory, no journal: what the journal reads cost;
4. redis-benchmark with the same XADD, one connection, pipeline 500: the server's ceiling.

Redis keys are this run's own (the shard ``bench-<random>``: ``vexe:{trips:bench-...}:...``)
and are deleted at the end; nothing is flushed. The functions are loaded (FUNCTION LOAD
REPLACE: the same library every vexe loads). Journals live in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

from backoffice import inbox
from shared import redis_functions
from shared.redis_keys import trips_stream
from shared.trip import ACCEPT, Trip, new_trip_id
from validator import sync
from validator.journal import Journal
from validator.lists import Lists

NOW_MS = 1795136400_000


def fill_journal(path: Path, trips: int) -> Journal:
    """A journal holding ``trips`` realistic scans, written in one transaction."""
    journal = Journal(path)
    journal._db.execute("BEGIN")
    for n in range(trips):
        at_ms = NOW_MS + n * 50
        journal.record(Trip(
            id=new_trip_id(at_ms), validator="bench-validator-0001", vehicle="29B-123.45",
            route="32", stop="HN-0123", at_ms=at_ms, decision=ACCEPT, reason="ok",
            pass_id=f"{n:010d}", product="single", category=None, proof_at=at_ms // 1000))
    journal._db.execute("COMMIT")
    return journal


def rate(trips: int, seconds: float) -> str:
    return f"{trips / seconds:12,.0f} trips/s  ({seconds * 1000:8.1f} ms for {trips:,})"


def function_push(journal: Journal, client: redis.Redis, lists: Lists,
                  shard: str) -> tuple[float, float]:
    """Seconds for the push, and for the move of what it pushed into the stream."""
    syncer = sync.Syncer(journal, lists, client, validator_id="bench", shard=shard)
    start = time.perf_counter()
    added = syncer.push_all(NOW_MS / 1000)
    elapsed = time.perf_counter() - start
    assert added == len(journal) and journal.backlog() == 0, (added, journal.backlog())
    # Sent again (a crash before the journal noted the push), a batch adds nothing.
    again = journal._db.execute("SELECT seq, payload FROM scans ORDER BY seq LIMIT ?",
                                (sync.BATCH_SIZE,)).fetchall()
    args = [syncer.key, 0] + [value for row in again for value in row]
    added, seen, _ = client.fcall("vexe_push", 3, syncer.inbox, syncer.hwm, syncer.ready,
                                  *args)
    start = time.perf_counter()
    moved = inbox.move(client, shard)
    moving = time.perf_counter() - start
    assert (added, seen) == (0, len(again)) and moved == len(journal)
    assert client.xlen(trips_stream(shard)) == len(journal)
    return elapsed, moving


def xadd_push(journal: Journal, client: redis.Redis, stream: str, round_size: int) -> float:
    start = time.perf_counter()
    while True:
        rows = journal.unsent(round_size)
        if not rows:
            break
        with client.pipeline(transaction=False) as pipe:
            for _, payload in rows:
                pipe.xadd(stream, {"trip": payload})
            pipe.execute()
        journal.mark_pushed(rows[-1][0])
    return time.perf_counter() - start


def xadd_memory(payloads: list[str], client: redis.Redis, stream: str, round_size: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(payloads), round_size):
        with client.pipeline(transaction=False) as pipe:
            for payload in payloads[i:i + round_size]:
                pipe.xadd(stream, {"trip": payload})
            pipe.execute()
    return time.perf_counter() - start


def redis_benchmark(url: str, key: str, payload: str, trips: int, pipeline: int) -> float | None:
    """Requests per second of ``XADD key * trip <payload>`` by redis-benchmark, or None."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    parts = urlparse(url)
    db = int(parts.path.strip("/") or 0)
    command = [binary, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
               "--dbnum", str(db), "-c", "1", "-P", str(pipeline), "-n", str(trips), "--csv",
               "-x", "XADD", key, "*", "trip"]
    out = subprocess.run(command, input=payload.encode(), capture_output=True, check=True).stdout
    # "test","rps",...  then  "XADD ...","123456.79",...
    last = out.decode().strip().splitlines()[-1]
    return float(last.split('","')[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--trips", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each method; best is kept")
    args = parser.parse_args()

    shard = f"bench-{secrets.token_hex(4)}"
    stream = trips_stream(shard)
    tag = stream.partition("}")[0] + "}"  # vexe:{trips:bench-...}
    plain, baseline = f"{tag}:plain", f"{tag}:redis-benchmark"
    client = redis.Redis.from_url(args.redis)
    redis_functions.load(client)
    if next(client.scan_iter(match=f"{tag}*"), None) is not None:
        raise SystemExit("bench keys already exist; not touching them")
    round_size = sync.BATCH_SIZE * sync.BATCHES_PER_ROUND
    workdir = Path(tempfile.mkdtemp(prefix="vexe-bench-sync-"))
    results: dict[str, list[float]] = {"push": [], "move": [], "xadd": [], "memory": [],
                                       "rb": []}
    try:
        lists = Lists(workdir / "lists")
        payloads = None
        for run in range(args.runs):
            journal = fill_journal(workdir / f"push-{run}.db", args.trips)
            payloads = payloads or [payload for _, payload in journal.unsent(args.trips)]
            pushing, moving = function_push(journal, client, lists, shard)
            results["push"].append(pushing)
            results["move"].append(moving)
            journal.close()
            journal = fill_journal(workdir / f"xadd-{run}.db", args.trips)
            results["xadd"].append(xadd_push(journal, client, plain, round_size))
            journal.close()
            results["memory"].append(xadd_memory(payloads, client, plain, round_size))
            rps = redis_benchmark(args.redis, baseline, payloads[0], args.trips, sync.BATCH_SIZE)
            if rps:
                results["rb"].append(args.trips / rps)
            _delete(client, tag)
        info = client.info("server")
        size = sum(len(p) for p in payloads) / len(payloads)
        print(f"Redis {info['redis_version']} at {args.redis}; {args.trips:,} trips of "
              f"{size:.0f} bytes of JSON; best of {args.runs} runs; {os.cpu_count()} CPUs")
        best = {name: min(times) for name, times in results.items() if times}
        rows = [("1. push, journal -> inbox, idempotent", "push"),
                ("1b. the ingest's move, inbox -> stream", "move"),
                ("2. pipelined XADD, journal -> Redis", "xadd"),
                ("3. pipelined XADD from memory", "memory"),
                (f"4. redis-benchmark XADD -c 1 -P {sync.BATCH_SIZE}", "rb")]
        for label, name in rows:
            if name in best:
                print(f"{label:43} {rate(args.trips, best[name])}")
        for number, name in (("2", "xadd"), ("4", "rb")):
            if name in best:
                print(f"throughput of 1 / throughput of {number}: {best[name] / best['push']:.2f}")
    finally:
        _delete(client, tag)
        client.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _delete(client: redis.Redis, tag: str) -> None:
    """This run's keys: they all carry its hash tag."""
    keys = list(client.scan_iter(match=f"{tag}*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
