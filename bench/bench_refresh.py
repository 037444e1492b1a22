"""A credential refresh against a bare Flask route, both under gunicorn, in one run.

    .venv/bin/python bench/bench_refresh.py [--riders 1000] [--time 20] [--rounds 2]
        [--users 40] [--workers 4] [--target-rate 347]

Starts the issuer as a load run does (loadtests.system.System: gunicorn with the issuer's
settings, PostgreSQL, Redis, riders whose passes are bound to phone keys) and, with the same
gunicorn settings and workers, a bare Flask app that answers "hello" (bench/hello_app.py).
Then, round after round, it drives each with the same Locust user shape (headless, no wait,
``--users`` users, ``--time`` seconds): the hello route, credential refreshes only
(bench/refresh_users.py), the hello route again, the riders' mix (loadtests.riders with no
wait). It prints requests/s, p50 and p95, the ratios to the hello route run just before, the CPU
seconds the gunicorn workers spent per request (their /proc stat), and the database round
trips of one refresh (counted on the wire by issuer.platform.roundtrips, in this process, on
the same database). Then refreshes paced at ``--target-rate`` a second (ten times Hanoi's
peak: 347) for ``--time`` seconds: their p95 and failures at that rate. Last, the renewal
rush (loadtests.renewal, no wait, ``--time`` seconds): renewing riders order next month, pay
by card through the development gateway or by VietQR notification and pick up next month's
credential, while as many users refresh: paid orders a second and their p95 from Buy to
paid, next to the same phase's refreshes. The system's clock shows 20:00 on the 28th,
Hanoi time, for the whole bench (loadtests.system.month_turn_evening): every refresh is in
its pass's last days, as on the evenings the rush happens. The load average is printed with
every phase: figures taken on a busy machine say so.

The database is ``VEXE_LOAD_PG_URL`` (default: the database vexe_perf, a schema of its own
dropped after); Redis is ``VEXE_LOAD_REDIS_URL`` (default database 4, flushed at the start).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VEXE_LOAD_PG_URL",
                      "postgresql+psycopg://postgres@127.0.0.1:5432/vexe_perf")
os.environ.setdefault("VEXE_LOAD_REDIS_URL", "redis://127.0.0.1:6379/4")

import redis  # noqa: E402

from loadtests.system import (BIN, REDIS_URL, System, free_port,  # noqa: E402
                              month_turn_evening)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TICKS = os.sysconf("SC_CLK_TCK")


def workers_of(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in path.read_text().split()]


def _cpu_of_living(pids: list[int]) -> float:
    return cpu_seconds([pid for pid in pids if Path(f"/proc/{pid}/stat").exists()])


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # gone since it was listed
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving the run's database (they share the cores)."""
    import sqlalchemy as sa
    engine = sa.create_engine(url.split("?")[0], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        pids = list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).scalars())
    engine.dispose()
    return [pid for pid in pids if Path(f"/proc/{pid}/stat").exists()]


def clear_limits(limits: redis.Redis, url: str) -> None:
    """The rate limiter's counts in Redis, and the refreshes' own on the passes."""
    import sqlalchemy as sa
    for key in limits.scan_iter("*vexe:ratelimit*"):
        limits.delete(key)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE passes SET refresh_tat_ms = 0"))
    engine.dispose()


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def wait_http(url: str, timeout: float = 30) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", headers={
                    "Content-Type": "application/json"}), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def locust(out: Path, name: str, user: str, locustfile: Path, host: str, args,
           env: dict) -> dict:
    """One headless Locust run; its aggregated figures and the refreshes among them."""
    prefix = out / name
    command = [str(BIN / "locust"), "-f", str(locustfile), "--headless", "--only-summary",
               "--users", str(args.users), "--spawn-rate", str(args.users),
               "--run-time", f"{args.time}s", "--csv", str(prefix), "--host", host,
               *user.split()]
    with open(f"{prefix}.log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv"))}
    total = rows["Aggregated"]
    refresh = rows.get("/api/passes/[id]/credential")
    return {"requests": int(total["Request Count"]), "failures": int(total["Failure Count"]),
            "rps": float(total["Requests/s"]), "p50": float(total["50%"]),
            "p95": float(total["95%"]),
            "refreshes": int(refresh["Request Count"]) if refresh else 0,
            "refresh_rps": float(refresh["Requests/s"]) if refresh else 0.0,
            "refresh_p95": float(refresh["95%"]) if refresh else 0.0,
            **_rush(rows)}


def _rush(rows: dict) -> dict:
    """The renewal rush's own lines (loadtests.renewal), when the run has them."""
    paid = rows.get("renewal: paid order")
    picked = rows.get("renewal: next month on the phone")
    if paid is None:
        return {}
    return {"paid": int(paid["Request Count"]), "paid_rps": float(paid["Requests/s"]),
            "paid_p50": float(paid["50%"]), "paid_p95": float(paid["95%"]),
            "next_p95": float(picked["95%"]) if picked else 0.0}


def count_round_trips(system: System, pool: dict, times: int = 5) -> tuple[float, list[str]]:
    """Round trips of one refresh through the issuer's own app, on the run's database."""
    for key, value in system.env.items():
        if key.startswith("VEXE_"):
            os.environ[key] = value
    from issuer import create_app
    from issuer.platform import db
    from issuer.platform.roundtrips import RoundTrips

    app = create_app()
    client = app.test_client()
    url = app.config["DATABASE_URL"]
    engines = [db.engine(url), db.autocommit_engine(url)]
    riders = [r for r in pool["riders"] if not r["custodial"]][-times - 1:]
    sent: list[str] = []

    def refresh(rider):
        response = client.post(f"/api/passes/{rider['pass_id']}/credential", json={},
                               headers={"Authorization": f"Bearer {rider['rider_token']}"})
        assert response.status_code == 200, response.get_json()

    refresh(riders[0])  # the signing key unsealed in this process, a connection pooled
    counts = []
    for rider in riders[1:]:
        with RoundTrips(engines[0]) as general, RoundTrips(engines[1]) as one:
            refresh(rider)
        counts.append(general.count + one.count)
        sent = general.sent + one.sent
    db.dispose()
    return statistics.mean(counts), sent


def ensure_database(url: str) -> None:
    """Create the bench's own database on a machine that has never run it."""
    import sqlalchemy as sa

    server, _, name = url.partition("?")[0].rpartition("/")
    engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        known = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": name})
        if not known:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def main() -> None:
    ensure_database(os.environ["VEXE_LOAD_PG_URL"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--riders", type=int, default=1000)
    parser.add_argument("--time", type=int, default=20, help="Seconds per phase.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--target-rate", type=float, default=347)
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp(prefix="vexe-bench-refresh-"))
    hello = None
    print(f"load average at the start: {Path('/proc/loadavg').read_text().strip()}")
    with System(out / "system", workers=args.workers, riders=args.riders,
                redis_url=REDIS_URL, payments=True, clock_at=month_turn_evening()) as system:
        port = free_port()
        hello = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:issuer.gunicorn_conf", "--workers",
             str(args.workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
             "bench.hello_app:create_app()"],
            cwd=ROOT, env={k: v for k, v in system.env.items() if k not in system.clock_env},
            stdout=open(out / "hello.log", "ab"),
            stderr=subprocess.STDOUT)
        try:
            hello_url = f"http://127.0.0.1:{port}"
            wait_http(f"{hello_url}/hello")
            issuer_master = system._procs[-1].pid  # gunicorn, the last one started
            masters = {"hello": hello.pid, "issuer": issuer_master}
            # Locust and the hello app keep the real clock (the renewal users add the
            # system's offset where a message carries the time).
            real = {k: v for k, v in system.env.items() if k not in system.clock_env}
            env = {**real, "VEXE_LOAD_POOL": str(system.pool_file),
                   "VEXE_LOAD_ISSUER": system.issuer_url, "VEXE_RIDER_WAIT": "0",
                   "PYTHONPATH": str(ROOT)}
            limits = redis.Redis.from_url(REDIS_URL)
            phases = [("hello", "Hello", HERE / "refresh_users.py", hello_url),
                      ("refresh", "Refresher", HERE / "refresh_users.py", system.issuer_url),
                      ("hello", "Hello", HERE / "refresh_users.py", hello_url),
                      ("mix", "Rider", ROOT / "loadtests" / "riders.py", system.issuer_url)]
            results: dict[str, list[dict]] = {"hello": [], "refresh": [], "mix": []}
            for n in range(args.rounds):
                for kind, user, locustfile, host in phases:
                    # Each phase starts with the limits' counts cleared: the pool's riders
                    # are few phones asking often, the limits are not what is measured here.
                    clear_limits(limits, system.database_url)
                    pids = workers_of(masters["hello" if kind == "hello" else "issuer"])
                    pg = backends(system.database_url) if kind != "hello" else []
                    before, pg_before, load = cpu_seconds(pids), cpu_seconds(pg), loadavg()
                    figures = locust(out, f"{kind}-{n}-{len(results[kind])}", user,
                                     locustfile, host, args, env)
                    figures["cpu"] = cpu_seconds(pids) - before
                    # Backends still there at the end (the pools keep theirs): a lower bound.
                    figures["pg_cpu"] = _cpu_of_living(pg) - pg_before
                    figures["load"] = load
                    results[kind].append(figures)
                    print(f"round {n + 1} {kind:8} {figures['rps']:8.1f} req/s "
                          f"p50 {figures['p50']:5.0f} p95 {figures['p95']:5.0f} ms  "
                          f"failures {figures['failures']}  load {load}", flush=True)
            clear_limits(limits, system.database_url)
            per_user = str(args.target_rate / args.users)
            paced = locust(out, "paced", "PacedRefresher", HERE / "refresh_users.py",
                           system.issuer_url, args, {**env, "VEXE_REFRESH_PER_USER": per_user})
            paced["load"] = loadavg()
            pool = json.loads(system.pool_file.read_text())
            clear_limits(limits, system.database_url)
            trips, sent = count_round_trips(system, pool)
            clear_limits(limits, system.database_url)
            pids = workers_of(masters["issuer"])
            before, load = cpu_seconds(pids), loadavg()
            rush = locust(out, "rush", "Renewer Rider", ROOT / "loadtests" / "renewal.py",
                          system.issuer_url, args, env)
            rush["cpu"], rush["load"] = cpu_seconds(pids) - before, load
        finally:
            hello.terminate()
            hello.wait(15)
    report(results, trips, sent, args)
    print(f"paced at {args.target_rate:g} refreshes/s: {paced['rps']:.1f}/s achieved, "
          f"p50 {paced['p50']:.0f} ms, p95 {paced['p95']:.0f} ms (goal 100), "
          f"failures {paced['failures']}, load {paced['load']}")
    renewable = sum(1 for r in pool["riders"] if not r["custodial"])
    if "paid" not in rush:
        print(f"renewal rush: no order paid in {args.time} s ({rush['requests']} requests, "
              f"failures {rush['failures']}, load {rush['load']}): run it longer")
        return
    print(f"renewal rush: {rush['paid_rps']:.1f} paid orders/s, Buy to paid p50 "
          f"{rush['paid_p50']:.0f} ms p95 {rush['paid_p95']:.0f} ms, next month on the phone "
          f"p95 {rush['next_p95']:.0f} ms; beside {rush['refresh_rps']:.1f} refreshes/s p95 "
          f"{rush['refresh_p95']:.0f} ms; {rush['requests']} requests, failures "
          f"{rush['failures']}, load {rush['load']}")
    if rush["paid"] >= renewable:
        print(f"  every renewable rider of the pool ({renewable}) renewed before the phase "
              "ended: the rate is a floor; run with more --riders")


def report(results: dict, trips: float, sent: list[str], args) -> None:
    hellos = results["hello"]
    print(f"\n{args.workers} sync workers, {args.users} users, no wait, {args.time} s a phase, "
          f"{args.rounds} rounds, {args.riders} riders")
    print(f"{'':10} {'req/s':>8} {'refresh/s':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'× hello':>8} {'CPU ms/req':>11} {'failures':>9} {'load':>5}")
    for n in range(args.rounds):
        for kind, ref in (("refresh", hellos[2 * n]), ("mix", hellos[2 * n + 1])):
            for name, f in (("hello", ref), (kind, results[kind][n])):
                ratio = f["rps"] / ref["rps"]
                print(f"{name:10} {f['rps']:8.1f} {f['refresh_rps']:10.1f} {f['p50']:7.0f} "
                      f"{f['p95']:7.0f} {ratio:8.3f} {1000 * f['cpu'] / f['requests']:11.2f} "
                      f"{f['failures']:9} {f['load']:>5}")
    ratio = {kind: statistics.mean(results[kind][n]["rps"] / hellos[2 * n + i]["rps"]
                                   for n in range(args.rounds))
             for i, kind in enumerate(("refresh", "mix"))}
    refresh_cpu = statistics.mean(1000 * f["cpu"] / f["requests"] for f in results["refresh"])
    print(f"\nrefresh / hello: {ratio['refresh']:.3f} (goal 0.5); "
          f"mix / hello: {ratio['mix']:.3f} (goal 0.35)")
    pg_cpu = statistics.mean(1000 * f["pg_cpu"] / f["requests"] for f in results["refresh"])
    print(f"CPU of the issuer's workers per refresh: {refresh_cpu:.2f} ms; of PostgreSQL's "
          f"backends at least {pg_cpu:.2f} ms")
    print(f"database round trips per refresh (over HTTP, a rider's token): {trips:g}")
    for line in sent:
        print(f"  {line[:96]}")


if __name__ == "__main__":
    sys.exit(main())
