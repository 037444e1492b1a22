"""A city-sized GTFS feed through ``vexe network import``: seconds and peak memory.

    .venv/bin/python bench/bench_network_import.py [--routes 120] [--db sqlite|postgresql]

The feed, generated: ``--routes`` routes, each both ways with its own stop ids per direction
(as Hanoi's feed has them) at 30 places, 12 of them shared with other routes (transfers);
about 30 trips a route and direction, a few skipping a stop; shapes of 150 points each; no
agency.txt, an expired calendar, placeholder names, as the real feed comes. With 120 routes:
7,200 stops, 7,200 trips, about 210,000 stop times.

The import runs as the operator runs it: ``vexe network import`` in a child process (the
console script next to this Python), twice: a first import into an empty network, then the
same feed again (the difference: nothing). Peak memory is the child's maximum resident set
(its ``resource.struct_rusage``, from ``os.wait4``), each import in a fresh child.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from issuer.platform import db

PLACES = 30  # a route's stops, each direction
TRIPS = 30  # a route's trips, each direction
SHAPE_POINTS = 150


def generate(path: Path, routes: int, rng: random.Random) -> dict:
    """Write the feed; return its counts."""
    stops, trips, stop_times, shapes = [], [], [], []
    shared = [(21.0 + rng.random() * 0.1, 105.75 + rng.random() * 0.1) for _ in range(routes)]
    for r in range(routes):
        places = [shared[(r + k) % routes] for k in range(12)] + [
            (21.0 + rng.random() * 0.1, 105.75 + rng.random() * 0.1)
            for _ in range(PLACES - 12)]
        for direction in (0, 1):
            ids = [f"STOP_{r:03d}_{direction}_S{n}" for n in range(PLACES)]
            for stop_id, (lat, lon) in zip(ids, places):
                stops.append(f"{stop_id},{stop_id},{lat:.6f},{lon:.6f}")
            order = ids if direction == 0 else ids[::-1]
            shape = f"SH_{r}_{direction}"
            for n in range(SHAPE_POINTS):
                lat, lon = places[n * PLACES // SHAPE_POINTS]
                shapes.append(f"{shape},{lat:.6f},{lon:.6f},{n}")
            for t in range(TRIPS):
                trip = f"T_{r}_{direction}_{t}"
                trips.append(f"R{r},WD,{trip},{direction},{shape}")
                skip = rng.randrange(PLACES) if t % 5 == 0 else -1
                for seq, stop_id in enumerate(order):
                    if seq != skip:
                        clock = f"{6 + t // 4:02d}:{seq % 60:02d}:00"
                        stop_times.append(f"{trip},{clock},{clock},{stop_id},{seq + 1}")
    files = {
        "routes.txt": ["route_id,route_short_name,route_long_name,route_type"]
        + [f"R{r},{r + 1},Route_{r + 1}_2,3" for r in range(routes)],
        "stops.txt": ["stop_id,stop_name,stop_lat,stop_lon"] + stops,
        "trips.txt": ["route_id,service_id,trip_id,direction_id,shape_id"] + trips,
        "stop_times.txt": ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
        + stop_times,
        "shapes.txt": ["shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence"] + shapes,
        "calendar.txt": ["service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
                         "start_date,end_date", "WD,1,1,1,1,1,0,0,20240101,20241231"],
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, lines in files.items():
            archive.writestr(name, "\n".join(lines) + "\n")
    return {"routes": routes, "stops": len(stops), "trips": len(trips),
            "stop_times": len(stop_times), "shape_points": len(shapes),
            "zip_bytes": path.stat().st_size}


def run_import(feed: Path, env: dict, out: Path) -> tuple[float, int, dict]:
    """Seconds, the child's own peak RSS in KiB (its rusage, from wait4), and its summary."""
    vexe = Path(sys.executable).with_name("vexe")
    start = time.perf_counter()
    with out.open("w") as stdout:
        child = subprocess.Popen([str(vexe), "network", "import", str(feed)], env=env,
                                 stdout=stdout)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"vexe network import failed ({child.returncode})")
    return seconds, usage.ru_maxrss, json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routes", type=int, default=120)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        counts = generate(tmp / "feed.zip", args.routes, random.Random(22))
        print(json.dumps({"feed": counts}))
        url = _database(args.db, tmp)
        db.migrate(url)
        env = {**os.environ, "VEXE_DATABASE_URL": url, "VEXE_DATA_DIR": str(tmp / "data")}
        try:
            for label in ("first import", "same feed again"):
                seconds, peak_kib, summary = run_import(tmp / "feed.zip", env, tmp / "out.json")
                print(json.dumps({"run": label, "seconds": round(seconds, 1),
                                  "peak_rss_mib": round(peak_kib / 1024, 1),
                                  "routes_added": len(summary["routes"]["added"]),
                                  "stations": summary["stops"]["stations"],
                                  "patterns": summary["patterns"]["count"],
                                  "warnings": len(summary["warnings"])}))
        finally:
            db.dispose(url)
            if args.db == "postgresql":
                _drop_schema(url)


def _database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    import sqlalchemy as sa

    schema = f"bench_network_{os.getpid()}"
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"


def _drop_schema(url: str) -> None:
    import sqlalchemy as sa

    schema = url.rsplit("%3D", 1)[1]
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


if __name__ == "__main__":
    main()
