"""Run one load scenario headless against a system this command starts itself.

    .venv/bin/python -m loadtests.run SCENARIO [--users N] [--spawn-rate R] [--time 60s]
                                               [--peak] [--riders 1000] [--workers 4]

SCENARIO is one of: validator-check (in-process, no servers), validator-http, riders,
fleet (validators journaling and syncing, with the ingest behind them), console (operators
on the console's pages and exports while the fleet feeds it), renewal (the evenings before
the month turns: riders order, pay by card and by transfer, and their phones pick up next
month, while other riders refresh; the system's clock is set to 20:00 on the 28th, Hanoi
time, and the development payment gateway runs beside the issuer).
The issuer runs under gunicorn on PostgreSQL and Redis; Locust's CSV and HTML reports go to
results/<scenario>-<time>/, and a summary is printed. With --peak the morning-peak shape
(loadtests.shapes.MorningPeak, sized by VEXE_PEAK_USERS, VEXE_RAMP_S, VEXE_HOLD_S) drives
the users instead of --users. The exit code is Locust's: non-zero when the fail gate trips.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from loadtests.system import System, month_turn_evening

HERE = Path(__file__).resolve().parent
SCENARIOS = {
    # name: (locustfile, user class, servers needed)
    "validator-check": ("validator_check.py", "ValidatorUser", None),
    "validator-http": ("validator_http.py", "ScanningValidator", "validator"),
    "riders": ("riders.py", "Rider", "issuer"),
    "fleet": ("fleet.py", "Bus", "ingest"),
    "console": ("operators.py", "Operator Bus", "ingest"),
    "renewal": ("renewal.py", "Renewer Rider", "payments"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--time", default="60s", help="Run time, e.g. 30s, 5m.")
    parser.add_argument("--peak", action="store_true", help="Use the morning-peak shape.")
    parser.add_argument("--riders", type=int, default=1000,
                        help="Riders to create (the riders scenario spreads its requests over them).")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers.")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--max-fail-ratio", default="0.01")
    parser.add_argument("--max-p95-ms", default="500")
    args = parser.parse_args(argv)

    locustfile, user_class, servers = SCENARIOS[args.scenario]
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.results / f"{args.scenario}-{stamp}").resolve()
    out.mkdir(parents=True)
    command = [str(Path(sys.executable).parent / "locust"), "-f", str(HERE / locustfile),
               "--headless", "--only-summary", "--csv", str(out / "locust"),
               "--html", str(out / "report.html"), "--max-fail-ratio", args.max_fail_ratio,
               "--max-p95-ms", args.max_p95_ms, *user_class.split()]
    env = dict(os.environ)
    if args.peak:
        env["VEXE_SHAPE"] = "peak"
    else:
        command += ["--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                    "--run-time", args.time]
    if servers is None:
        return _run(command, env, out)
    with System(out / "system", workers=args.workers, riders=args.riders,
                validator=servers == "validator", ingest=servers == "ingest",
                payments=servers == "payments",
                clock_at=month_turn_evening() if servers == "payments" else None) as system:
        env["VEXE_LOAD_POOL"] = str(system.pool_file)
        env.update({key: system.env[key] for key in ("VEXE_DATABASE_URL", "VEXE_REDIS_URL")})
        host = system.validator_url if servers == "validator" else system.issuer_url
        env["VEXE_LOAD_ISSUER"] = system.issuer_url
        return _run([*command, "--host", host], env, out)


def _run(command: list[str], env: dict, out: Path) -> int:
    with open(out / "locust.log", "w") as log:
        code = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    _summary(out, code)
    return code


def _summary(out: Path, code: int) -> None:
    stats = out / "locust_stats.csv"
    if not stats.exists():
        print(f"no statistics; see {out / 'locust.log'}")
        return
    print(f"{'name':44} {'requests':>9} {'fails':>6} {'rps':>9} {'p50':>6} {'p95':>6} {'p99':>6}")
    with open(stats) as f:
        for row in csv.DictReader(f):
            print(f"{(row['Type'] + ' ' + row['Name']).strip()[:44]:44} "
                  f"{row['Request Count']:>9} {row['Failure Count']:>6} "
                  f"{float(row['Requests/s']):>9.1f} {row['50%']:>6} {row['95%']:>6} "
                  f"{row['99%']:>6}")
    print(f"reports: {out}  ({'passed' if code == 0 else 'FAILED'} the fail gate)")


if __name__ == "__main__":
    sys.exit(main())
