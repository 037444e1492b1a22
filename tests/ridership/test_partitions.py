"""The trips table by month on PostgreSQL (issuer.platform.partitions): each trip in its Hanoi
month's partition, a month made later takes the trips that waited in DEFAULT, the migration
keeps every row; and the rule the key rests on: a trip's id begins with its time."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from alembic import command

from issuer.platform import db, partitions
from ridership_testkit import T0
from shared import clock
from shared.redis_keys import TRIPS_STREAM
from tests.testkit import wait_for

DAY_MS = 86400_000


def rows(url: str, sql: str, **params) -> list[tuple]:
    with db.engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def where(url: str, trip_id: str) -> str:
    """The partition that holds the trip."""
    [(name,)] = rows(url, "SELECT tableoid::regclass::text FROM trips WHERE id = :id", id=trip_id)
    return name


def made(url: str) -> list[str]:
    with db.engine(url).connect() as conn:
        return partitions.existing(conn)


def boardings(url: str) -> int:
    return rows(url, "SELECT COALESCE(SUM(boardings), 0) FROM ride_hour")[0][0]


@pytest.fixture
def postgresql(migrated):
    if not migrated.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    return migrated


class TestTheIdBeginsWithItsTime:
    def test_a_trip_sent_again_with_another_time_is_refused(self, worker, stream, maker,
                                                            migrated):
        """The key is (id, at_ms): a trip that came back with its time changed would be a
        second row, counted twice. The ingest turns it away, with the reason, and goes on."""
        honest = maker.board()
        moved = json.dumps({**json.loads(honest.to_json()), "at_ms": honest.at_ms + 60_000})
        made_up = json.dumps({**json.loads(maker.board(pass_id="P000000002").to_json()),
                              "id": "not-a-time-at-all"})
        stream.push(honest)
        bad = [stream.push_fields({"trip": moved}), stream.push_fields({"trip": made_up})]
        worker.drain(T0 / 1000 + 60)
        assert stream.pending() == 0  # acknowledged, not retried for ever
        assert rows(migrated, "SELECT id, at_ms FROM trips") == [(honest.id, honest.at_ms)]
        assert boardings(migrated) == 1
        rejects = dict(rows(migrated, "SELECT entry_id, error FROM ingest_rejects"))
        assert set(rejects) == set(bad)
        assert rejects[bad[0]] == (f"the id {honest.id!r} does not begin with at_ms "
                                   f"{honest.at_ms + 60_000} in hex "
                                   f"({honest.at_ms + 60_000:012x}): a validator's id begins "
                                   f"with the scan's time")
        assert "'not-a-time-at-all' does not begin with at_ms" in rejects[bad[1]]


class TestMonths:
    def test_each_trip_lands_in_its_hanoi_month(self, worker, stream, maker, postgresql):
        """The ingest makes the months from its oldest trip's to the next one as it starts;
        a trip at 23:59 on the last day of a month, Hanoi time, is that month's."""
        now = clock.now()
        now_ms = int(now * 1000)
        this = partitions.month_of(now_ms)
        start = partitions.bounds_ms(*this)[0]
        last_month = maker.board(at_ms=start - 60_000)  # 23:59 +07, the day before the 1st
        today = maker.board(at_ms=now_ms - 60_000, pass_id="P000000002")
        stream.push(last_month, today)
        assert worker.once(now) == 2
        assert partitions.name_of(*partitions.following(*this)) in made(postgresql)
        assert where(postgresql, today.id) == partitions.name_of(*this)
        previous = partitions.month_of(start - 60_000)
        assert previous != this
        assert where(postgresql, last_month.id) == partitions.name_of(*previous)

    def test_a_trip_of_a_month_with_no_partition_waits_in_default_then_moves(
            self, worker, stream, maker, postgresql):
        """No insert fails for want of a partition: a trip of a month not made yet goes to
        DEFAULT. PostgreSQL refuses to attach a month while DEFAULT holds rows of it; the
        ingest moves them into the new month as it makes it. Sent again after, the trip is
        still one row, counted once."""
        now = clock.now()
        worker.once(now)
        later_ms = int(now * 1000) + 400 * DAY_MS  # a year on, when its month is not made yet
        trip = maker.board(at_ms=later_ms)
        # Its entry dated by Redis as then: the ingest takes no trip from the future.
        stream.client.xadd(TRIPS_STREAM, {"trip": trip.to_json()}, id=f"{later_ms}-0")
        worker.drain(now)
        assert where(postgresql, trip.id) == partitions.DEFAULT
        month = partitions.name_of(*partitions.month_of(later_ms))
        assert month not in made(postgresql)

        assert month in worker.ensure_partitions(later_ms / 1000)  # the calendar gets there
        assert where(postgresql, trip.id) == month
        assert rows(postgresql, f"SELECT COUNT(*) FROM {partitions.DEFAULT}") == [(0,)]
        assert worker.ensure_partitions(later_ms / 1000) == []  # made once

        stream.client.xadd(TRIPS_STREAM, {"trip": trip.to_json()}, id=f"{later_ms + 1}-0")
        worker.drain(later_ms / 1000)
        assert rows(postgresql, "SELECT COUNT(*) FROM trips") == [(1,)]
        assert boardings(postgresql) == 1

    def test_two_workers_making_the_same_month_take_turns(self, worker_factory, postgresql):
        """Two workers start at once: the second waits for the first, then finds the month
        made and makes nothing (no "relation already exists", no second attach)."""
        month = (2031, 1)
        engine = db.engine(postgresql)
        first = engine.connect()
        transaction = first.begin()
        assert partitions.make(first, [month]) == [partitions.name_of(*month)]
        second = worker_factory("w2")
        answer = {}
        thread = threading.Thread(target=lambda: answer.update(
            made=second.ensure_partitions(partitions.bounds_ms(*month)[0] / 1000 + 86400)))
        thread.start()
        wait_for(lambda: rows(postgresql, "SELECT COUNT(*) FROM pg_locks WHERE locktype = "
                              "'advisory' AND objid = :key AND NOT granted",
                              key=partitions.LOCK_KEY)[0][0] >= 1,
                 what="the second worker waiting for the first")
        transaction.commit()
        first.close()
        thread.join()
        assert partitions.name_of(*month) not in answer["made"]
        assert made(postgresql).count(partitions.name_of(*month)) == 1


TRIP_COLUMNS = ("id, validator, vehicle, route, stop, at_ms, decision, reason, pass_id, "
                "product, category, proof_at, mode, company, stream_ms, ingested_ms")


def old_trip(trip_id: str, at_ms: int) -> dict:
    return {"id": trip_id, "validator": "V1", "vehicle": "29B-1", "route": "32", "stop": "S1",
            "at_ms": at_ms, "decision": "accept", "reason": "ok", "pass_id": "P000000001",
            "product": "multi", "category": None, "proof_at": at_ms // 1000, "mode": "board",
            "company": None, "stream_ms": at_ms, "ingested_ms": at_ms}


class TestMigration:
    def test_the_trips_of_0007_are_all_kept_up_and_down(self, database_url):
        """Trips written before 0008 (of three months, one dated years ahead, one whose id
        is not its time) are all there after the upgrade, each in its month's partition on
        PostgreSQL, and all there again after a downgrade."""
        config = db.alembic_config(database_url)
        command.upgrade(config, "0007")
        september = partitions.bounds_ms(2026, 9)[0]  # 00:00 +07 on 1 September
        times = [september, september - 1, T0, T0 + 1, partitions.bounds_ms(2031, 5)[0] + 5]
        trips = [old_trip(f"{at:012x}{n:08x}", at) for n, at in enumerate(times)]
        trips.append(old_trip("legacy-id-0001", T0 + 2))
        engine = db.engine(database_url)
        marks = ", ".join(f":{c}" for c in TRIP_COLUMNS.split(", "))
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO trips ({TRIP_COLUMNS}) VALUES ({marks})"), trips)
        every = f"SELECT {TRIP_COLUMNS} FROM trips ORDER BY id"
        before = rows(database_url, every)
        assert len(before) == 6

        assert db.migrate(database_url) is True
        assert rows(database_url, every) == before
        key = sa.inspect(engine).get_pk_constraint("trips")["constrained_columns"]
        assert key == ["id", "at_ms"]
        if database_url.startswith("postgresql"):
            placed = dict(rows(database_url, "SELECT id, tableoid::regclass::text FROM trips"))
            assert [placed[t["id"]] for t in trips] == [
                "trips_2026_09", "trips_2026_08", "trips_2026_11", "trips_2026_11",
                "trips_default", "trips_2026_11"]
            now = partitions.month_of(int(clock.now() * 1000))
            assert {partitions.name_of(*now), partitions.name_of(*partitions.following(*now))
                    } <= set(made(database_url))

        command.downgrade(config, "0007")
        db.dispose(database_url)
        engine = db.engine(database_url)
        assert rows(database_url, every) == before
        assert sa.inspect(engine).get_pk_constraint("trips")["constrained_columns"] == ["id"]
        assert db.migrate(database_url) is True
        assert rows(database_url, every) == before
        db.dispose(database_url)
