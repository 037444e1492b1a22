"""A Hanoi day through Redis and the ingest: trips per second, and scan-to-dashboard latency.

    .venv/bin/python bench/bench_ingest.py [--scale 1.0] [--db sqlite|postgresql|both]
        [--workers 1,2] [--redis redis://127.0.0.1:6379/8] [--rate 5000] [--paced-seconds 60]

The day: ``1.5 M x scale`` accepted boardings and as many alightings on 3,000 vehicles and
150 routes (30 stops each, 20 vehicles each), the hourly profile of a weekday (peaks at 7:00
and 17:00), single-route, multi-route and free passes (by category), 1 % of boardings
refused with assorted reasons. Each boarding is followed 3 to 40 minutes later by an
alighting on the same vehicle at a later stop. Trips are pushed in time order, as the
validators' sync would.

For each database, in one run:

1. **baseline**: the same rows into a bare ``trips`` table (executemany on SQLite, COPY on
   PostgreSQL, ON CONFLICT DO NOTHING), one transaction per 5,000, then per ``--batch`` (the
   most a worker's transaction holds): what the database takes with no rollups, no
   pairing, no Redis;
2. **ingest**: the whole day pre-filled in the stream, then N worker processes
   (``backoffice.ingest.Worker``, the code ``vexe ingest run`` runs) until the group
   has nothing pending: trips per second end to end (XREADGROUP, parse, write, commit, XACK);
3. **latency**: a fresh database; trips pushed at ``--rate`` per second for
   ``--paced-seconds`` while one worker ingests; for every trip, the time from its XADD
   (the stream entry's id) to the commit that put it in the rollups the dashboard reads.

The Redis database given is used for the trips stream only; its stream and group are deleted
before and after. SQLite files and PostgreSQL schemas are temporary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa

from issuer.platform import db, partitions
from backoffice import ingest, store
from shared.redis_keys import TRIPS_STREAM

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAY0 = 1_795_107_600  # 2026-11-20 00:00 Hanoi time
# The workers count trips of DAY0 whenever the bench runs (the ingest turns away trips older
# than VEXE_INGEST_MAX_AGE_DAYS, 35 by default).
REPLAY = {"max_age_ms": int(time.time() * 1000) - DAY0 * 1000 + 2 * 86400_000}
# Share of the day's boardings in each hour (Hanoi weekday profile, peaks at 7 and 17).
PROFILE = [0.2, 0.1, 0.1, 0.1, 0.3, 2.5, 6.5, 9.0, 8.0, 5.5, 4.5, 4.5, 4.5, 4.5, 4.5, 5.0,
           7.0, 9.0, 7.5, 5.0, 3.5, 2.5, 1.5, 0.7]
REASONS = ["expired", "stale_proof", "wrong_route", "revoked", "passback", "malformed"]


def make_day(scale: float, seed: int = 2026) -> list[tuple[int, str]]:
    """(scan time ms, trip JSON) for one day, in time order."""
    rng = random.Random(seed)
    boardings = int(1_500_000 * scale)
    vehicles = [(f"29B-{v // 100:03d}.{v % 100:02d}", f"R{v % 150:03d}") for v in range(3000)]
    hours = rng.choices(range(24), weights=PROFILE, k=boardings)
    out = []
    serial = 0

    def trip(at_ms, vehicle, route, stop, mode, pass_id, product, category, decision="accept",
             reason="ok"):
        nonlocal serial
        serial += 1
        return (at_ms, json.dumps({
            "id": f"{at_ms:012x}{serial:08x}", "validator": f"V{vehicle}-{mode[0]}",
            "vehicle": vehicle, "route": route, "stop": stop, "at_ms": at_ms,
            "decision": decision, "reason": reason, "pass_id": pass_id, "product": product,
            "category": category, "proof_at": at_ms // 1000 - rng.randrange(0, 20),
            "mode": mode, "company": f"C{int(vehicle[4:7]) % 12:02d}"}, separators=(",", ":")))

    for hour in hours:
        at = (DAY0 + hour * 3600 + rng.randrange(3600)) * 1000 + rng.randrange(1000)
        vehicle, route = vehicles[rng.randrange(3000)]
        n = rng.randrange(900_000)
        pass_id = f"P{n:09d}"
        kind = n % 10
        product, category = (("multi", None) if kind < 6 else ("single", None) if kind < 8
                             else ("free", ["elderly", "disability", "merit", "child"][n % 4]))
        origin = rng.randrange(29)
        stop = f"{route}-S{origin:02d}"
        if rng.random() < 0.01:
            out.append(trip(at, vehicle, route, stop, "board", pass_id, product, category,
                            "refuse", rng.choice(REASONS)))
            continue
        out.append(trip(at, vehicle, route, stop, "board", pass_id, product, category))
        later = at + rng.randrange(3 * 60_000, 40 * 60_000)
        dest = f"{route}-S{rng.randrange(origin + 1, 30):02d}"
        out.append(trip(later, vehicle, route, dest, "alight", pass_id, product, category))
    out.sort()
    return out


# -- databases -----------------------------------------------------------------------------

class Database:
    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
            self.schema = None
        else:
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            with sa.create_engine(PG_URL).begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
            self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        db.migrate(self.url)
        # The day's month gets its partition on PostgreSQL, as a worker makes the months
        # it may still take trips of: its trips do not wait in DEFAULT.
        with db.engine(self.url).begin() as conn:
            partitions.ensure(conn, now_ms=int(time.time() * 1000), back_ms=REPLAY["max_age_ms"])

    def drop(self) -> None:
        db.dispose(self.url)
        if self.schema:
            engine = sa.create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {self.schema} CASCADE"))
            engine.dispose()


def baseline(kind: str, day: list[tuple[int, str]], workdir: Path, per: int = 5000) -> float:
    """Plain inserts of the same rows into a bare table, ``per`` a transaction: trips per
    second."""
    base = Database(kind, workdir)
    rows = []
    for _, text in day:
        t = json.loads(text)
        rows.append((t["id"], t["validator"], t["vehicle"], t["route"], t["stop"], t["at_ms"],
                     t["decision"], t["reason"], t["pass_id"], t["product"], t["category"],
                     t["proof_at"], t["mode"], t["company"], 0, 0))
    columns = ("id, validator, vehicle, route, stop, at_ms, decision, reason, pass_id, product, "
               "category, proof_at, mode, company, stream_ms, ingested_ms")
    engine = db.engine(base.url)
    if kind == "sqlite":  # the worker's settings: WAL, its page cache and memory map
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    start = time.perf_counter()
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        with engine.begin() as conn:
            if kind == "sqlite":
                store.tune_sqlite(conn)
                conn.exec_driver_sql(f"INSERT INTO trips ({columns}) VALUES "
                                     f"({', '.join('?' * 16)}) ON CONFLICT (id, at_ms) DO NOTHING",
                                     chunk)
            else:
                cursor = conn.connection.dbapi_connection.cursor()
                cursor.execute("CREATE TEMP TABLE IF NOT EXISTS b (LIKE trips) "
                               "ON COMMIT DELETE ROWS")
                with cursor.copy(f"COPY b ({columns}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
                cursor.execute("INSERT INTO trips SELECT * FROM b "
                               "ON CONFLICT (id, at_ms) DO NOTHING")
                cursor.close()
    elapsed = time.perf_counter() - start
    base.drop()
    return len(rows) / elapsed


# -- Redis ---------------------------------------------------------------------------------

def reset_stream(client: redis.Redis) -> None:
    client.delete(TRIPS_STREAM)


def fill(client: redis.Redis, day: list[tuple[int, str]]) -> float:
    start = time.perf_counter()
    for i in range(0, len(day), 10_000):
        with client.pipeline(transaction=False) as pipe:
            for _, text in day[i:i + 10_000]:
                pipe.xadd(TRIPS_STREAM, {"trip": text})
            pipe.execute()
    return time.perf_counter() - start


def _work(url: str, redis_url: str, name: str, batch: int, out) -> None:
    ingest.tune_gc()  # as Worker.run does
    worker = ingest.Worker(url, ingest.connect(redis_url), name, batch=batch, **REPLAY)
    entries = 0
    while True:
        handled = worker.step(time.time(), wait=False)
        if handled is None:
            break
        entries += handled.entries
    out.put(entries)


def ingest_rate(kind: str, day, redis_url: str, workers: int, workdir: Path,
                batch: int = ingest.BATCH) -> tuple[float, dict]:
    client = redis.Redis.from_url(redis_url)
    reset_stream(client)
    target = Database(kind, workdir)
    fill_s = fill(client, day)
    setup = ingest.Worker(target.url, ingest.connect(redis_url), "setup", **REPLAY)
    setup.ensure_group()
    db.dispose(target.url)  # no pooled connection crosses into the worker processes
    out = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=_work, args=(target.url, redis_url,
                                                                 f"bench-{i}", batch, out))
             for i in range(workers)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a worker failed; see its traceback above")
    counted = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - start
    with db.engine(target.url).connect() as conn:
        trips = conn.execute(sa.text("SELECT COUNT(*) FROM trips")).scalar()
        boardings = conn.execute(sa.text("SELECT SUM(boardings) FROM ride_hour")).scalar()
        journeys = conn.execute(sa.text("SELECT SUM(journeys) FROM od_day "
                                        "WHERE destination <> ''")).scalar()
    facts = {"entries": counted, "trips": trips, "boardings": int(boardings or 0),
             "closed_journeys": int(journeys or 0), "fill_s": fill_s}
    target.drop()
    reset_stream(client)
    client.close()
    return len(day) / elapsed, facts


def latency(kind: str, day, redis_url: str, rate: int, seconds: float,
            workdir: Path) -> dict:
    """Push at ``rate`` trips/s while one worker ingests; XADD-to-commit per trip."""
    client = redis.Redis.from_url(redis_url)
    reset_stream(client)
    target = Database(kind, workdir)
    ingest.tune_gc()  # as Worker.run does
    worker = ingest.Worker(target.url, ingest.connect(redis_url), "paced", **REPLAY)
    worker.ensure_group()
    total = min(len(day), int(rate * seconds))
    done = threading.Event()

    def pusher():
        start = time.perf_counter()
        sent = 0
        tick = 0.05  # a push every 50 ms, like many validators each sending a few
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            if due > sent:
                with client.pipeline(transaction=False) as pipe:
                    for _, text in day[sent:due]:
                        pipe.xadd(TRIPS_STREAM, {"trip": text})
                    pipe.execute()
                sent = due
            time.sleep(tick)
        done.set()

    thread = threading.Thread(target=pusher)
    thread.start()
    delays = []
    while True:
        batch = worker.read(wait=True)
        if not batch:
            if done.is_set():
                break
            continue
        worker.handle(batch, time.time())
        committed_ms = time.time() * 1000
        delays += [committed_ms - int(i.split("-")[0]) for i, _ in batch]
    thread.join()
    target.drop()
    reset_stream(client)
    client.close()
    delays.sort()
    return {"trips": len(delays), "rate": rate,
            "p50_ms": delays[len(delays) // 2], "p99_ms": delays[int(len(delays) * 0.99)],
            "max_ms": delays[-1]}


def private_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server of the run's own: no other program flushes or reads it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


def run(args, kinds, day, workdir: Path) -> None:
    for kind in kinds:
        if not args.skip_baseline:
            for per in (5000, args.batch):
                print(f"{kind:10} baseline, bare inserts, {per:,} a transaction: "
                      f"{baseline(kind, day, workdir, per):10,.0f} trips/s", flush=True)
        for n in [int(w) for w in args.workers.split(",")]:
            rate, facts = ingest_rate(kind, day, args.redis, n, workdir, args.batch)
            print(f"{kind:10} ingest, {n} worker(s):    {rate:10,.0f} trips/s  {facts}", flush=True)
        if args.paced_seconds > 0:
            result = latency(kind, day, args.redis, args.rate, args.paced_seconds, workdir)
            print(f"{kind:10} latency at {args.rate:,}/s: {result}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--redis", default=None,
                        help="default: a private redis-server started for the run")
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--paced-seconds", type=float, default=60)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--batch", type=int, default=ingest.BATCH,
                        help="entries a worker reads at most per batch")
    args = parser.parse_args()
    start = time.perf_counter()
    day = make_day(args.scale)
    print(f"day: {len(day):,} trips generated in {time.perf_counter() - start:.1f} s", flush=True)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = None
        if args.redis is None:
            server, args.redis = private_redis(workdir)
        try:
            run(args, kinds, day, workdir)
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)


if __name__ == "__main__":
    main()
