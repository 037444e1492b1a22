"""The validator's nearest-stop decision (validator.locate.Locator.fix) against a plain
distance scan over every stop of the route (validator.locate.nearest_stop_scan), the baseline,
in the same run, on the same fixes.

    .venv/bin/python bench/bench_nearest_stop.py [--routes 120] [--places 30] [--step 10]

The network is bench/bench_network_import.py's city-sized feed (``--routes`` routes, each
both ways with its own stop ids at ``--places`` places), read by the issuer's GTFS reader;
each route's stops as the issuer publishes them to its validators (shared.stops). A bus
drives each route outbound along its stops, a fix every ``--step`` metres with 8 m of
gaussian noise (a receiver in a street). Printed: nanoseconds per fix for each, the ratio,
and how many times each changed its stop over the drive (a stop visited once is one change:
more is flapping).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_network_import  # noqa: E402  (the city's generator, beside this file)

from issuer.network import feed as network  # noqa: E402
from issuer.network import gtfs  # noqa: E402
from shared.stops import Direction, RouteStops, Stop  # noqa: E402
from validator.locate import Locator, nearest_stop_scan  # noqa: E402

NOISE = 8.0  # metres
M = 111_195.0  # metres per degree of latitude


def city(routes: int, places: int, seed: int) -> dict[str, RouteStops]:
    bench_network_import.PLACES = places
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.zip"
        bench_network_import.generate(path, routes, random.Random(seed))
        read = gtfs.read(path, now=time.time())
    station = network.stations(read.stops)
    out: dict[str, dict[int, list[Stop]]] = {}
    for (code, direction), ids in read.patterns.items():
        out.setdefault(code, {})[direction] = [
            Stop(s, station[s], read.stops[s][0], read.stops[s][1], read.stops[s][2])
            for s in ids]
    return {code: RouteStops(code, [Direction(d, s) for d, s in sorted(dirs.items())])
            for code, dirs in out.items()}


def drive(route: RouteStops, step: float, rng: random.Random) -> list[tuple[float, float]]:
    """Noisy fixes along direction 0's stops, one every ``step`` metres."""
    stops = route.directions[0].stops
    fixes = []
    for a, b in zip(stops, stops[1:]):
        kx = M * math.cos(math.radians(a.lat))
        length = math.hypot((b.lat - a.lat) * M, (b.lon - a.lon) * kx)
        for i in range(max(1, int(length // step))):
            t = i * step / length if length else 0.0
            fixes.append((a.lat + t * (b.lat - a.lat) + rng.gauss(0, NOISE) / M,
                          a.lon + t * (b.lon - a.lon) + rng.gauss(0, NOISE) / kx))
    return fixes


def changes(stops: list) -> int:
    return sum(1 for x, y in zip(stops, stops[1:]) if y is not None and x != y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", type=int, default=120)
    parser.add_argument("--places", type=int, default=30)
    parser.add_argument("--step", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    routes = city(args.routes, args.places, args.seed)
    rng = random.Random(args.seed)
    drives = {code: drive(route, args.step, rng) for code, route in routes.items()}
    fixes = sum(map(len, drives.values()))
    stops = sum(len(d.stops) for r in routes.values() for d in r.directions)

    located_changes = scanned_changes = 0
    started = time.perf_counter()
    for code, route in routes.items():
        locator = Locator(route)
        fix = locator.fix
        located = [fix(lat, lon).stop for lat, lon in drives[code]]
        located_changes += changes(located)
    locator_s = time.perf_counter() - started

    started = time.perf_counter()
    for code, route in routes.items():
        scanned = [nearest_stop_scan(route, lat, lon) for lat, lon in drives[code]]
        scanned_changes += changes(scanned)
    scan_s = time.perf_counter() - started

    visited = sum(len(r.directions[0].stops) for r in routes.values())
    print(f"{len(routes)} routes, {stops} stops ({stops // len(routes)} a route, both ways), "
          f"{fixes} fixes (every {args.step:g} m, {NOISE:g} m noise)")
    print(f"{'':28}{'ns/fix':>10}{'stop changes':>14}  (stops driven past: {visited})")
    print(f"{'locator (validator.locate)':28}{locator_s / fixes * 1e9:>10.0f}"
          f"{located_changes:>14}")
    print(f"{'plain scan (baseline)':28}{scan_s / fixes * 1e9:>10.0f}{scanned_changes:>14}")
    print(f"locator / scan: {locator_s / scan_s:.2f}")


if __name__ == "__main__":
    main()
