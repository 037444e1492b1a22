"""Boardings paired with alightings whatever the stream order; cloned-pass alerts."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from issuer.platform import db
from backoffice import buckets, pairing, reports, store
from backoffice.store import Limits
from ridership_testkit import T0

NOW = T0 / 1000 + 60
MIN = 60_000


def journeys(url: str) -> list[tuple]:
    """The closed journeys: an open one has no row."""
    with db.engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT boarding_id, origin_stop, alighting_id, destination_stop FROM journeys "
            "ORDER BY boarded_ms"))]


def still_open(url: str, route: str = "32") -> dict:
    """Open journeys by boarding stop, as the origin-destination report counts them."""
    day = buckets.date_of(buckets.day_of(T0))
    with db.session(url) as session:
        rows = reports.od_rows(session, route, reports.period(day, day))
    return {r["origin"]: r["journeys"] for r in rows if r["destination"] == "(open)"}


def od(url: str) -> dict:
    with db.engine(url).connect() as conn:
        return {(r.origin, r.destination): r.journeys for r in conn.execute(sa.text(
            "SELECT origin, destination, journeys FROM od_day WHERE journeys <> 0"))}


def alerts(url: str) -> list[tuple]:
    with db.engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT first_trip_id, second_trip_id, first_vehicle, second_vehicle, status "
            "FROM clone_alerts ORDER BY id"))]


def ride(maker, pass_id="P000000001"):
    """Two rides of one pass on one bus: S01 to S05, then S07 to S02 (and a stray alighting)."""
    return [maker.board(pass_id=pass_id, at_ms=T0, stop="S01"),
            maker.alight(pass_id=pass_id, at_ms=T0 + 20 * MIN, stop="S05"),
            maker.alight(pass_id=pass_id, at_ms=T0 + 21 * MIN, stop="S06"),  # scanned twice
            maker.board(pass_id=pass_id, at_ms=T0 + 90 * MIN, stop="S07"),
            maker.alight(pass_id=pass_id, at_ms=T0 + 120 * MIN, stop="S02")]


class TestPairing:
    def test_an_alighting_closes_the_journey(self, worker, stream, maker, migrated):
        b, a = maker.board(stop="S01"), maker.alight(at_ms=T0 + 10 * MIN, stop="S04")
        stream.push(b, a)
        worker.drain(NOW)
        assert journeys(migrated) == [(b.id, "S01", a.id, "S04")]
        assert od(migrated) == {("S01", "S04"): 1}
        assert still_open(migrated) == {}

    def test_no_alighting_leaves_it_open(self, worker, stream, maker, migrated):
        b = maker.board(stop="S01")
        stream.push(b, maker.alight(at_ms=T0 + 5 * MIN, vehicle="29B-999.99", stop="S02"))
        worker.drain(NOW)
        assert journeys(migrated) == [] and od(migrated) == {}
        assert still_open(migrated) == {"S01": 1}

    def test_too_long_after_is_not_the_same_journey(self, worker, stream, maker, migrated):
        b = maker.board(stop="S01")
        stream.push(b, maker.alight(at_ms=T0 + pairing.MAX_JOURNEY_MS + 1, stop="S02"))
        worker.drain(NOW)
        assert journeys(migrated) == [] and still_open(migrated) == {"S01": 1}

    @pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::7])
    def test_any_stream_order_and_batching_gives_the_same_journeys(
            self, worker_factory, stream, maker, migrated, order):
        """Front and rear validators push on their own: every order of arrival, each scan in
        its own batch, pairs the same way and counts each journey once."""
        trips = ride(maker)
        worker = worker_factory(batch=1)
        for i in order:
            stream.push(trips[i])
            worker.drain(NOW)
        assert journeys(migrated) == [(trips[0].id, "S01", trips[1].id, "S05"),
                                      (trips[3].id, "S07", trips[4].id, "S02")]
        assert od(migrated) == {("S01", "S05"): 1, ("S07", "S02"): 1}
        assert still_open(migrated) == {}

    def test_a_late_boarding_takes_the_alighting_after_it(self, worker, stream, maker, migrated):
        """Boarding, (offline validator) alighting, then a boarding between them arrives: the
        alighting belongs to the later boarding and the first journey opens again."""
        b1, b2 = maker.board(stop="S01"), maker.board(at_ms=T0 + 30 * MIN, stop="S03")
        a = maker.alight(at_ms=T0 + 40 * MIN, stop="S04")
        stream.push(b1, a)
        worker.drain(NOW)
        assert od(migrated) == {("S01", "S04"): 1}
        stream.push(b2)
        worker.drain(NOW)
        assert journeys(migrated) == [(b2.id, "S03", a.id, "S04")]
        assert od(migrated) == {("S03", "S04"): 1}
        assert still_open(migrated) == {"S01": 1}

    def test_refused_scans_pair_nothing(self, worker, stream, maker, migrated):
        stream.push(maker.refused(stop="S01"), maker.alight(at_ms=T0 + MIN, stop="S02"))
        worker.drain(NOW)
        assert journeys(migrated) == []


class TestTwoWorkers:
    """A worker pairs a batch before it waits for the lock (SQLite's write lock, PostgreSQL's
    advisory lock): what another worker commits in between must still be paired and checked
    for clones."""

    @pytest.fixture
    def meanwhile(self, monkeypatch):
        """Run ``then`` just before the next batch takes the lock."""
        def arrange(then):
            lock = store._lock

            def first_then_lock(conn):
                monkeypatch.setattr(store, "_lock", lock)
                then()
                lock(conn)
            monkeypatch.setattr(store, "_lock", first_then_lock)
        return arrange

    # A pass id is whatever the validator sent: the log keeps ids with spaces apart too.
    @pytest.mark.parametrize("pass_id", ["P000000001", "P 1 2"])
    def test_a_boarding_committed_meanwhile_is_closed(self, worker_factory, stream, maker,
                                                       migrated, meanwhile, pass_id):
        first, second = worker_factory("first"), worker_factory("second")
        b = maker.board(pass_id=pass_id, stop="S01")
        a = maker.alight(pass_id=pass_id, at_ms=T0 + 10 * MIN, stop="S04")
        stream.push(a)
        alighting = second.read(wait=False)
        stream.push(b)
        meanwhile(lambda: first.drain(NOW))
        second.handle(alighting, NOW)
        assert journeys(migrated) == [(b.id, "S01", a.id, "S04")]
        assert od(migrated) == {("S01", "S04"): 1} and still_open(migrated) == {}

    @pytest.mark.parametrize("meanwhile_first", [True, False],
                             ids=["earlier-alighting-meanwhile", "later-alighting-meanwhile"])
    def test_a_journey_closed_meanwhile_ends_at_the_earlier_alighting(
            self, worker_factory, stream, maker, migrated, meanwhile, meanwhile_first):
        """This batch was paired as if the boarding were open; the other worker closed it in
        between. With the earlier alighting it keeps it; with the later one, this batch's
        earlier alighting takes it and the origin-destination count moves with it."""
        first, second = worker_factory("first"), worker_factory("second")
        b = maker.board(stop="S01")
        stream.push(b)
        first.drain(NOW)
        early = maker.alight(at_ms=T0 + 10 * MIN, stop="S04")
        late = maker.alight(at_ms=T0 + 20 * MIN, stop="S06")
        mine, theirs = (late, early) if meanwhile_first else (early, late)
        stream.push(mine)
        batch = second.read(wait=False)
        stream.push(theirs)
        meanwhile(lambda: first.drain(NOW))
        second.handle(batch, NOW)
        assert journeys(migrated) == [(b.id, "S01", early.id, "S04")]
        assert od(migrated) == {("S01", "S04"): 1}

    def test_passes_the_other_worker_did_not_touch_keep_their_pairing(
            self, worker_factory, stream, maker, migrated, meanwhile):
        first, second = worker_factory("first"), worker_factory("second")
        mine = [maker.board(pass_id="P000000001", stop="S01"),
                maker.alight(pass_id="P000000001", at_ms=T0 + 10 * MIN, stop="S04")]
        stream.push(*mine)
        batch = second.read(wait=False)
        theirs = [maker.board(pass_id="P000000002", stop="S02"),
                  maker.alight(pass_id="P000000002", at_ms=T0 + 5 * MIN, stop="S03")]
        stream.push(*theirs)
        meanwhile(lambda: first.drain(NOW))
        second.handle(batch, NOW)
        assert set(journeys(migrated)) == {(mine[0].id, "S01", mine[1].id, "S04"),
                                           (theirs[0].id, "S02", theirs[1].id, "S03")}
        assert od(migrated) == {("S01", "S04"): 1, ("S02", "S03"): 1}

    def test_a_boarding_on_another_bus_committed_meanwhile_raises_an_alert(
            self, worker_factory, stream, maker, migrated, meanwhile):
        first, second = worker_factory("first"), worker_factory("second")
        here = maker.board(at_ms=T0 + MIN, vehicle="29B-100.01")
        there = maker.board(vehicle="29B-200.02")
        stream.push(here)
        batch = second.read(wait=False)
        stream.push(there)
        meanwhile(lambda: first.drain(NOW))
        second.handle(batch, NOW)
        assert alerts(migrated) == [(there.id, here.id, "29B-200.02", "29B-100.01", "open")]


    def test_a_batch_that_finds_the_log_pruned_reads_all_its_passes_again(
            self, worker_factory, stream, maker, migrated, meanwhile, monkeypatch):
        """PostgreSQL keeps the last ``LOG_KEEP`` batches' passes: one that finds more
        committed meanwhile cannot tell which passes they touched, and reads them all."""
        if not migrated.startswith("postgresql"):
            pytest.skip("SQLite tells what was committed meanwhile by rowid, not by a log")
        monkeypatch.setattr(store, "LOG_KEEP", 2)
        first, second = worker_factory("first"), worker_factory("second")
        b, a = maker.board(stop="S01"), maker.alight(at_ms=T0 + 10 * MIN, stop="S04")
        stream.push(a)
        alighting = second.read(wait=False)

        def three_batches():
            for trip in (b, maker.board(pass_id="P000000002"), maker.board(pass_id="P000000003")):
                stream.push(trip)
                first.drain(NOW)
        meanwhile(three_batches)
        second.handle(alighting, NOW)
        assert journeys(migrated) == [(b.id, "S01", a.id, "S04")]
        with db.engine(migrated).connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM ingest_log")).scalar() == 2


class TestClones:
    def test_two_vehicles_within_the_window_raise_an_alert(self, worker, stream, maker,
                                                           migrated):
        b1 = maker.board(vehicle="29B-100.01")
        b2 = maker.board(vehicle="29B-200.02", at_ms=T0 + 2 * MIN)
        stream.push(b2)  # the later scan first: a validator that synced earlier
        worker.drain(NOW)
        stream.push(b1)
        worker.drain(NOW)
        assert alerts(migrated) == [(b1.id, b2.id, "29B-100.01", "29B-200.02", "open")]

    def test_the_same_vehicle_raises_none(self, worker, stream, maker, migrated):
        stream.push(maker.board(), maker.board(at_ms=T0 + MIN))
        worker.drain(NOW)
        assert alerts(migrated) == []

    def test_outside_the_window_raises_none(self, worker_factory, stream, maker, migrated):
        worker = worker_factory(limits=Limits(clone_window_ms=3 * MIN))
        stream.push(maker.board(vehicle="29B-100.01"),
                    maker.board(vehicle="29B-200.02", at_ms=T0 + 3 * MIN + 1))
        worker.drain(NOW)
        assert alerts(migrated) == []

    def test_an_alighting_in_between_is_a_transfer(self, worker, stream, maker, migrated):
        stream.push(maker.board(vehicle="29B-100.01"),
                    maker.alight(vehicle="29B-100.01", at_ms=T0 + MIN),
                    maker.board(vehicle="29B-200.02", at_ms=T0 + 2 * MIN))
        worker.drain(NOW)
        assert alerts(migrated) == []

    def test_the_alert_is_raised_once(self, worker, stream, maker, migrated):
        b1 = maker.board(vehicle="29B-100.01")
        b2 = maker.board(vehicle="29B-200.02", at_ms=T0 + MIN)
        stream.push(b1, b2)
        worker.drain(NOW)
        stream.push(b1, b2)
        worker.drain(NOW)
        assert len(alerts(migrated)) == 1
