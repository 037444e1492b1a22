"""A network imported from a GTFS feed (``vexe network import``) and trips recorded at its
stops, pushed through the real ingest: what ridership by stop, the map and the exports read.

The feed is the network tests' clean one (tests/network/test_gtfs_import.py ``city``): route
32 both ways, each direction with its own stop ids at the same four places (S1..S4), route 31
from S2 to S3; paths for 32 only.
"""

from __future__ import annotations

from ridership_testkit import TripMaker, today_with_room
from shared import clock
from tests.network.test_gtfs_import import city, write

MIN = 60_000
A, B, C = "29B-100.01", "29B-200.02", "29B-300.03"


def seed(cli, stream, worker_factory, tmp_path) -> dict:
    """Import the feed, then push today's trips:

    - P1 on bus A (32 outbound) boards at S1_0, alights at S4_0;
    - P2 on bus B (32 inbound) boards at S4_1, alights at S1_1;
    - P3 on bus B boards at S2_1 (32), P4 on bus C boards at S2_0 (31): open journeys;
    - P5 boards bus A at "Cầu Giấy", a stop a driver typed that the network lacks;
    - P6 boards bus B at S1_1: the same place as S1_0, the other direction's stop id;
    - P7 is refused on bus A at S1_0 (an expired pass).

    Returns the start time (ms) and the trips pushed."""
    cli.json("network", "import", write(tmp_path / "feed.zip", city()))
    today = today_with_room(12 * MIN)
    t0 = max(today * 1000 + MIN, int(clock.now() * 1000) - 60 * MIN)
    m = TripMaker()
    trips = [
        m.board(pass_id="P000000001", at_ms=t0, stop="S1_0", vehicle=A, route="32"),
        m.alight(pass_id="P000000001", at_ms=t0 + 9 * MIN, stop="S4_0", vehicle=A, route="32"),
        m.board(pass_id="P000000002", at_ms=t0 + MIN, stop="S4_1", vehicle=B, route="32"),
        m.alight(pass_id="P000000002", at_ms=t0 + 8 * MIN, stop="S1_1", vehicle=B, route="32"),
        m.board(pass_id="P000000003", at_ms=t0 + 4 * MIN, stop="S2_1", vehicle=B, route="32",
                product="single"),
        m.board(pass_id="P000000004", at_ms=t0 + 2 * MIN, stop="S2_0", vehicle=C, route="31",
                product="free", category="elderly"),
        m.board(pass_id="P000000005", at_ms=t0 + 3 * MIN, stop="Cầu Giấy", vehicle=A,
                route="32"),
        m.board(pass_id="P000000006", at_ms=t0 + 9 * MIN, stop="S1_1", vehicle=B, route="32",
                product="single", category="student"),
        m.refused("expired", pass_id="P000000007", at_ms=t0 + 5 * MIN, stop="S1_0",
                  vehicle=A, route="32"),
    ]
    stream.push(*trips)
    worker_factory().drain(clock.now())
    return {"t0": t0, "trips": trips}
