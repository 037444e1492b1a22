"""One bad trip never stops the ingest for the fleet, times from no clock are turned away,
a stalled worker says so, and the stream gives its memory back as fast as it is written."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from issuer.platform import db
from backoffice import ingest
from ridership_testkit import T0
from shared import clock
from shared.redis_keys import TRIPS_GROUP, TRIPS_STREAM
from tests.testkit import wait_for

NOW = T0 / 1000 + 60
VEXE = str(Path(sys.executable).parent / "vexe")
DAY = 86400_000


def scalar(url: str, sql: str) -> int:
    with db.engine(url).connect() as conn:
        return conn.execute(sa.text(sql)).scalar() or 0


def rejects(url: str) -> dict[str, str]:
    with db.engine(url).connect() as conn:
        return dict(conn.execute(sa.text("SELECT entry_id, error FROM ingest_rejects")).all())


def good_trips(maker, n: int) -> list:
    return [maker.board(pass_id=f"P{i:09d}", at_ms=T0 + i, vehicle=f"29B-{i % 20:03d}.01")
            for i in range(n)]


def trip_json(maker, **change) -> str:
    return json.dumps({**json.loads(maker.board(pass_id="P999999999").to_json()), **change})


class TestValuesNoDatabaseHolds:
    def test_a_nul_a_lone_surrogate_or_a_huge_trip_is_a_reject_and_the_fleet_goes_on(
            self, worker, stream, maker, migrated):
        """msgspec takes "\\u0000" in a string; PostgreSQL's text cannot hold it, and the
        batch failed at every retry. Each is turned away with its reason at the decoder."""
        good = good_trips(maker, 1000)
        stream.push(*good[:500])
        bad = {
            stream.push_fields({"trip": trip_json(maker, vehicle="29B\u0000")}): "NUL",
            stream.push_fields({"trip": trip_json(maker, stop="S\u0000", id="x1")}): "NUL",
            stream.push_fields({"trip": trip_json(maker, category="\u0000",
                                                  id="x2")}): "`$.category`",
            stream.push_fields({"trip": trip_json(maker, id="x3").replace(
                '"29B-100.01"', '"\\ud800"')}): "not JSON",
            stream.push_fields({"trip": trip_json(maker, id="x4").encode().replace(
                b"29B-100.01", b"\xed\xa0\x80")}): "not JSON",
            stream.push_fields({"trip": trip_json(maker, id="x5", note="n" * 5000)}):
                "bytes long",
        }
        stream.push(*good[500:])
        assert worker.drain(NOW) == 1000 + len(bad)
        assert stream.pending() == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 1000
        assert scalar(migrated, "SELECT SUM(boardings) FROM ride_hour") == 1000
        got = rejects(migrated)
        assert set(got) == set(bad)
        for entry_id, reason in bad.items():
            assert reason in got[entry_id], got[entry_id]

    def test_a_row_the_database_refuses_is_split_out_and_every_other_one_written(
            self, worker, stream, maker, migrated):
        """Whatever the decoder lets through that the database refuses (here a rule the
        database itself holds) is found by splitting the batch; it is kept aside with the
        database's reason, and the 1,000 good trips around it are written and counted."""
        with db.engine(migrated).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("ALTER TABLE trips ADD CONSTRAINT no_bus_x "
                                     "CHECK (vehicle <> '29B-REFUSED')")
            else:
                conn.exec_driver_sql(
                    "CREATE TRIGGER no_bus_x BEFORE INSERT ON trips "
                    "WHEN NEW.vehicle = '29B-REFUSED' BEGIN SELECT RAISE(ABORT, 'no bus x'); END")
        good = good_trips(maker, 1000)
        stream.push(*good[:700])
        [refused] = stream.push(maker.board(pass_id="P999999999", vehicle="29B-REFUSED"))
        stream.push(*good[700:])
        assert worker.drain(NOW) == 1001
        assert stream.pending() == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 1000
        assert scalar(migrated, "SELECT SUM(boardings) FROM ride_hour") == 1000
        assert scalar(migrated, "SELECT SUM(scans) FROM ride_day_validator") == 1000
        got = rejects(migrated)
        assert list(got) == [refused] and "the database refused it" in got[refused]


@pytest.fixture
def collector():
    """Worker.run turns the cyclic collector off for its process, as a worker should; the
    test process gets it back."""
    yield
    gc.enable()
    gc.unfreeze()


class TestProofTimes:
    def test_a_proof_signed_for_any_time_is_counted(self, worker, stream, maker, migrated):
        """The rider's phone signs the proof's time with its own key: a QR signed for the
        year 287,396 is refused at the door and counted as a refusal. The validator's clock
        offset it implies does not fit its 32-bit column: PostgreSQL's binary COPY stored it
        wrapped round (a validator 57 years fast), SQLite as it came."""
        stream.push(maker.refused("stale_proof", proof_at=2**53 - 1, vehicle="29B-900.01"),
                    maker.refused("stale_proof", proof_at=0, vehicle="29B-900.02",
                                  pass_id="P000000002"),
                    *good_trips(maker, 10))
        assert worker.drain(NOW) == 12
        assert rejects(migrated) == {}
        assert scalar(migrated, "SELECT SUM(refusals) FROM ride_hour") == 2
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 12
        assert scalar(migrated, "SELECT clock_offset_s FROM validator_status "
                                "WHERE validator = 'V-29B-900.01-front'") == -(2**31 - 1)


class TestStall:
    def test_a_stall_is_logged_at_error_and_shown_by_the_status(
            self, worker_factory, stream, maker, migrated, redis_url, tmp_path, caplog,
            collector):
        """A worker that cannot write at all retries; after a few tries it says so at ERROR,
        and ``vexe ingest status`` names it and its error until it goes again."""
        stream.push(*good_trips(maker, 10))
        with db.engine(migrated).begin() as conn:  # the table gone: every batch fails
            conn.exec_driver_sql("ALTER TABLE trips RENAME TO trips_away")
        worker = worker_factory("stuck")
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_url,
               "VEXE_DATA_DIR": str(tmp_path / "data")}
        caplog.set_level(logging.INFO, logger=ingest.__name__)
        thread.start()
        try:
            wait_for(lambda: any(r.levelno == logging.ERROR for r in caplog.records),
                     timeout=30, what="the stall at ERROR")
            status = vexe_status(env)
            [stalled] = status["stalled"]
            assert stalled["consumer"] == "stuck" and stalled["failures"] >= 3
            assert "trips" in stalled["error"]
            with db.engine(migrated).begin() as conn:
                conn.exec_driver_sql("ALTER TABLE trips_away RENAME TO trips")
            wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") == 10, timeout=30,
                     what="the worker going again")
            wait_for(lambda: vexe_status(env)["stalled"] == [], timeout=10,
                     what="the stall cleared")
        finally:
            stop.set()
            thread.join(30)


class TestGroupLost:
    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_a_stream_deleted_under_a_running_worker_is_read_again(
            self, worker_factory, stream, maker, migrated, collector):
        """Someone deletes the stream (DEL, FLUSHDB): validators make it again with their
        next trips, with no group; the worker makes the group again and reads them."""
        worker = worker_factory("w1", block_ms=100)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            stream.push(*good_trips(maker, 10))
            wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") == 10, timeout=30,
                     what="the first trips")
            stream.client.delete(TRIPS_STREAM)
            stream.push(maker.board(pass_id="P999999999"))
            wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") == 11, timeout=30,
                     what="the trip after the stream was made again")
        finally:
            stop.set()
            thread.join(30)


def vexe_status(env) -> dict:
    out = subprocess.run([VEXE, "ingest", "status"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class TestTimes:
    @pytest.mark.parametrize("at, reason", [
        (lambda arrived: 2**53 - 1, "after the trip reached Redis"),
        (lambda arrived: arrived + 46_000, "after the trip reached Redis"),
        (lambda arrived: int(NOW * 1000) - 36 * DAY, "the oldest time the ingest counts"),
        (lambda arrived: 0, "the oldest time the ingest counts"),
    ])
    def test_a_time_from_no_clock_is_a_reject(self, worker, stream, maker, migrated, at,
                                              reason):
        """A trip later than its arrival in Redis by more than a proof's freshness window,
        or older than the ingest counts (35 days by default), is turned away: it would
        stay the validator's last scan for good, or change days long reported."""
        arrived = int(clock.now() * 1000)
        [entry] = stream.push(maker.board(at_ms=at(arrived)))
        assert worker.drain(NOW) == 1
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM validator_status") == 0
        assert reason in rejects(migrated)[entry]

    def test_the_edges_are_counted(self, worker_factory, stream, maker, migrated):
        arrived = int(clock.now() * 1000)
        stream.push(maker.board(at_ms=arrived + 40_000),
                    maker.board(at_ms=int(NOW * 1000) - 34 * DAY, pass_id="P000000002"))
        assert worker_factory().drain(NOW) == 2
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 2
        # The bound is a setting: a worker allowing less turns the old one away.
        stream.push(maker.board(at_ms=int(NOW * 1000) - 2 * DAY, pass_id="P000000003"))
        assert worker_factory("strict", max_age_ms=DAY).drain(NOW) == 1
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 2


class TestOnce:
    def test_once_drains_what_dead_workers_left_and_what_is_new(
            self, worker_factory, stream, maker, migrated, redis_url, tmp_path):
        """3,000 entries pending on a dead worker and 500 new: ``--once`` writes them all,
        batch after batch, and exits."""
        trips = good_trips(maker, 3500)
        stream.push(*trips[:3000])
        dead = worker_factory("dead", batch=3000)
        assert len(dead.read(wait=False)) == 3000  # read, then the process dies
        stream.push(*trips[3000:])
        env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_url,
               "VEXE_DATA_DIR": str(tmp_path / "data")}
        out = subprocess.run([VEXE, "ingest", "run", "--once", "--batch", "1000",
                              "--claim-idle", "0.1"], env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["entries"] == 3500
        assert stream.pending() == 0
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == 3500


class TestTrim:
    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_acknowledged_entries_past_the_retention_all_go_at_once(
            self, worker_factory, stream, maker, migrated, redis_url, tmp_path):
        """Redis trimmed at most 10,000 entries a call (its default limit), once a minute:
        after a day's outage, hours to get the memory back. Every acknowledged entry past
        the retention goes at the next trim; the retention is a setting; ``vexe ingest
        status`` shows the stream's length and Redis's memory."""
        n = 30_000
        worker_factory()  # the group, from the start of the stream
        trips = good_trips(maker, n)
        for i in range(0, n, 5000):
            stream.push(*trips[i:i + 5000])
        env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_url,
               "VEXE_DATA_DIR": str(tmp_path / "data"), "VEXE_INGEST_RETAIN_MINUTES": "60"}
        before = vexe_status(env)["gauges"]
        assert before["stream_length"] == n and before["pending"] == 0 and before["lag"] == n
        assert before["redis_used_memory"] > before["stream_bytes"] > n * 50
        out = subprocess.run([VEXE, "ingest", "run", "--once"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        kept = vexe_status(env)["gauges"]  # written, and kept for the hour
        assert kept["stream_length"] == n and kept["lag"] == 0
        stream.push(maker.board(pass_id="P999999999"))
        env["VEXE_INGEST_RETAIN_MINUTES"] = "0"
        out = subprocess.run([VEXE, "ingest", "run", "--once"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        after = vexe_status(env)["gauges"]
        assert after["stream_length"] <= 100  # whole nodes of 100 entries go
        assert after["stream_bytes"] < before["stream_bytes"] / 100
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == n + 1

    def test_an_entry_not_yet_acknowledged_is_never_trimmed(self, worker_factory, stream,
                                                            maker, migrated):
        stream.push(*good_trips(maker, 500))
        reader = worker_factory("reader", batch=250)
        assert len(reader.read(wait=False)) == 250  # read, not written yet
        trimmer = worker_factory("trimmer", retain_ms=0)
        trimmer.trim(clock.now() + 3600)
        client = stream.client
        assert client.xpending(TRIPS_STREAM, TRIPS_GROUP)["pending"] == 250
        assert client.xlen(TRIPS_STREAM) == 500


def fill(client: redis.Redis, maker) -> int:
    """Trips pushed until Redis refuses for want of memory; how many it took."""
    n = 0
    while True:
        trips = [maker.board(pass_id=f"P{n + i:09d}", at_ms=T0 + n + i) for i in range(500)]
        with client.pipeline(transaction=False) as pipe:
            for trip in trips:
                pipe.xadd(TRIPS_STREAM, {"trip": trip.to_json()})
            try:
                pipe.execute()
            except redis.OutOfMemoryError:
                return client.xlen(TRIPS_STREAM)
        n += 500


class TestFullRedis:
    """Redis at maxmemory (noeviction) refuses XGROUP CREATE even for a group that is there;
    the worker died at its start with a traceback, and the memory could not come back."""

    @pytest.fixture
    def full(self, redis_server):
        client = redis.Redis.from_url(redis_server.url)
        used = client.info("memory")["used_memory"]
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", used + 2 * 2**20)  # room for some thousands of trips
        yield client
        client.close()

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_a_worker_starts_and_drains_a_full_redis(self, full, redis_server, maker,
                                                     migrated, tmp_path):
        full.xgroup_create(TRIPS_STREAM, TRIPS_GROUP, id="0", mkstream=True)
        n = fill(full, maker)
        assert n > 1000
        env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_server.url,
               "VEXE_DATA_DIR": str(tmp_path / "data"), "VEXE_INGEST_RETAIN_MINUTES": "0"}
        out = subprocess.run([VEXE, "ingest", "run", "--once", "--batch", "1000"], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["entries"] == n
        assert scalar(migrated, "SELECT COUNT(*) FROM trips") == n
        assert full.xpending(TRIPS_STREAM, TRIPS_GROUP)["pending"] == 0
        assert full.xlen(TRIPS_STREAM) <= 100  # trimmed: the memory is back
        full.xadd(TRIPS_STREAM, {"trip": maker.board(pass_id="P999999999").to_json()})

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_without_a_group_the_worker_says_why_and_goes_once_there_is_room(
            self, full, redis_server, maker, migrated, tmp_path):
        n = fill(full, maker)  # validators pushed before any worker ever ran
        env = {**os.environ, "VEXE_DATABASE_URL": migrated, "VEXE_REDIS_URL": redis_server.url,
               "VEXE_DATA_DIR": str(tmp_path / "data")}
        once = subprocess.run([VEXE, "ingest", "run", "--once"], env=env, capture_output=True,
                              text=True, timeout=300)
        assert once.returncode == 1 and "Traceback" not in once.stderr
        assert "Redis is at maxmemory" in once.stderr
        log = tmp_path / "worker.log"
        with open(log, "wb") as stderr:
            proc = subprocess.Popen([VEXE, "ingest", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for(lambda: "refuses to create the consumer group" in log.read_text(),
                     timeout=60, what="the reason in the log")
            assert proc.poll() is None, log.read_text()
            full.config_set("maxmemory", 0)  # room again (an operator raised the limit)
            wait_for(lambda: scalar(migrated, "SELECT COUNT(*) FROM trips") == n, timeout=120,
                     what="the stream written")
        finally:
            proc.terminate()
            assert proc.wait(60) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
