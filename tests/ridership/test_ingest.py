"""The ingest worker: trips from the stream into the database once, whatever happens."""

from __future__ import annotations

import random

import msgspec
import pytest
import sqlalchemy as sa

from issuer.platform import db
from backoffice import models
from ridership_testkit import T0

NOW = T0 / 1000 + 60


def count(url: str, sql: str, **params) -> int:
    with db.engine(url).connect() as conn:
        return conn.execute(sa.text(sql), params).scalar() or 0


def totals(url: str, table: str) -> tuple[int, int, int]:
    with db.engine(url).connect() as conn:
        row = conn.execute(sa.text(f"SELECT COALESCE(SUM(boardings), 0), "
                                   f"COALESCE(SUM(alightings), 0), COALESCE(SUM(refusals), 0) "
                                   f"FROM {table}")).one()
    return tuple(row)


class Killed(Exception):
    """Stands for the process dying at that point."""


class TestOnce:
    def test_entries_are_written_and_acknowledged(self, worker, stream, maker, migrated):
        stream.push(maker.board(), maker.board(pass_id="P000000002"),
                    maker.refused(pass_id="P000000003"))
        assert worker.drain(NOW) == 3
        assert stream.pending() == 0
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 3
        assert totals(migrated, "ride_hour") == (2, 0, 1)

    def test_the_same_entry_twice_counts_once(self, worker, stream, maker, migrated):
        """A trip pushed twice (two stream entries, one trip id) is one trip, counted once."""
        trip = maker.board()
        stream.push(trip, trip)
        worker.drain(NOW)
        stream.push(trip)  # and again, in a later batch
        worker.drain(NOW)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 1
        for table in ("ride_hour", "ride_hour_route", "ride_day_route", "ride_day_stop",
                      "ride_day_vehicle", "ride_day_company"):
            assert totals(migrated, table) == (1, 0, 0), table
        assert count(migrated, "SELECT SUM(scans) FROM ride_day_validator") == 1
        # One open journey: no journey row until an alighting closes it.
        assert count(migrated, "SELECT COUNT(*) FROM journeys") == 0
        assert count(migrated, "SELECT COALESCE(SUM(journeys), 0) FROM od_day") == 0
        stream.push(maker.alight(at_ms=trip.at_ms + 600_000, stop="S04"))
        worker.drain(NOW)
        stream.push(trip)  # the boarding again, after its journey closed
        worker.drain(NOW)
        assert count(migrated, "SELECT COUNT(*) FROM journeys") == 1
        assert count(migrated, "SELECT SUM(journeys) FROM od_day") == 1
        assert stream.pending() == 0

    def test_a_batch_of_old_and_new_trips_counts_the_new_ones(self, worker, stream, maker,
                                                               migrated):
        """Most batches are all new and take the quick way in; one holding trips already
        written (a dead worker's batch, claimed) finds out which are new, and counts those."""
        old = [maker.board(pass_id=f"P{n:09d}", at_ms=T0 + n) for n in range(3)]
        stream.push(*old)
        worker.drain(NOW)
        new = [maker.alight(pass_id=f"P{n:09d}", at_ms=T0 + 600_000 + n, stop="S05")
               for n in range(2)] + [maker.refused(pass_id="P000000099")]
        stream.push(old[1], new[0], old[0], new[1], new[2], old[2])
        assert worker.drain(NOW) == 6
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 6
        assert totals(migrated, "ride_hour") == (3, 2, 1)
        assert count(migrated, "SELECT SUM(scans) FROM ride_day_validator") == 6
        assert count(migrated, "SELECT COUNT(*) FROM journeys") == 2
        assert count(migrated, "SELECT journeys FROM od_day WHERE destination = 'S05'") == 2

    def test_killed_before_committing_is_claimed_and_counted_once(
            self, worker_factory, stream, maker, migrated):
        stream.push(*[maker.board(pass_id=f"P{n:09d}", at_ms=T0 + n) for n in range(50)])
        dead = worker_factory("dead")
        assert len(dead.read(wait=False)) == 50  # read, then the process dies
        assert stream.pending() == 50
        alive = worker_factory("alive", claim_idle_ms=1)
        claimed = alive.claim()
        assert len(claimed) == 50
        alive.handle(claimed, NOW)
        assert stream.pending() == 0
        assert totals(migrated, "ride_hour") == (50, 0, 0)

    def test_killed_after_committing_before_acknowledging(
            self, worker_factory, stream, maker, migrated):
        """The batch is in the database but still pending: the worker that takes it over
        writes it again, and nothing is counted twice."""
        stream.push(*[maker.board(pass_id=f"P{n:09d}", at_ms=T0 + n) for n in range(50)])
        stream.push(maker.alight(pass_id="P000000007", at_ms=T0 + 600_000, stop="S09"))
        dead = worker_factory("dead")

        def die(*_args):
            raise Killed

        dead.client.xack = die
        with pytest.raises(Killed):
            dead.step(NOW, wait=False)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 51
        assert stream.pending() == 51
        alive = worker_factory("alive", claim_idle_ms=1)
        alive.handle(alive.claim(), NOW)
        assert stream.pending() == 0
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 51
        assert totals(migrated, "ride_hour") == (50, 1, 0)
        assert count(migrated, "SELECT SUM(journeys) FROM od_day") == 1
        assert count(migrated, "SELECT journeys FROM od_day WHERE destination = 'S09'") == 1

    def test_a_failed_batch_is_read_again_by_the_same_worker(
            self, worker, stream, maker, migrated, monkeypatch):
        stream.push(maker.board(), maker.board(pass_id="P000000002"))
        from backoffice import store

        real = store.write

        def broken(*args, **kwargs):
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

        monkeypatch.setattr(store, "write", broken)
        with pytest.raises(sa.exc.OperationalError):
            worker.step(NOW, wait=False)
        monkeypatch.setattr(store, "write", real)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 0
        assert worker.drain(NOW) == 2
        assert stream.pending() == 0
        assert totals(migrated, "ride_hour") == (2, 0, 0)


class TestBadEntries:
    @pytest.mark.parametrize("fields, error", [
        ({"other": "x"}, "no 'trip' field"),
        ({"trip": "not json"}, "not JSON"),
        ({"trip": b"\xff\xfe"}, "not JSON"),
        ({"trip": "[1, 2]"}, "Expected `object`, got `array`"),
        ({"trip": '{"id": "a"}'}, "missing required field `validator`"),
        ({"trip": '{"id": "a", "id": null}'}, "Expected `str`, got `null` - at `$.id`"),
    ])
    def test_not_a_trip_is_kept_aside_and_counted_nowhere(
            self, worker, stream, maker, migrated, fields, error):
        bad = stream.push_fields(fields)
        stream.push(maker.board())
        assert worker.drain(NOW) == 2
        assert stream.pending() == 0
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 1
        assert totals(migrated, "ride_hour") == (1, 0, 0)
        with db.engine(migrated).connect() as conn:
            row = conn.execute(sa.text("SELECT entry_id, error FROM ingest_rejects")).one()
        assert row.entry_id == bad and error in row.error

    @pytest.mark.parametrize("change, error", [
        ({"at_ms": "yesterday"}, "Expected `int`, got `str` - at `$.at_ms`"),
        ({"at_ms": -5}, "Expected `int` >= 0 - at `$.at_ms`"),
        ({"at_ms": 2**53}, "Expected `int` <= 9007199254740991 - at `$.at_ms`"),
        ({"proof_at": 1.5}, "Expected `int | null`, got `float` - at `$.proof_at`"),
        ({"at_ms": True}, "Expected `int`, got `bool` - at `$.at_ms`"),
        ({"decision": "maybe"}, "Invalid enum value 'maybe' - at `$.decision`"),
        ({"reason": "sunspots"}, "Invalid enum value 'sunspots' - at `$.reason`"),
        ({"reason": "expired"}, "reason 'ok', and only"),
        ({"mode": "sideways"}, "Invalid enum value 'sideways' - at `$.mode`"),
        ({"product": "gold"}, "Invalid enum value 'gold' - at `$.product`"),
        ({"pass_id": None}, "names its pass"),
        ({"vehicle": "x" * 33}, "Expected `str` of length <= 32 - at `$.vehicle`"),
        ({"id": "x" * 33}, "Expected `str` of length <= 32 - at `$.id`"),
        ({"route": 32}, "Expected `str`, got `int` - at `$.route`"),
        ({"stop": ""}, "Expected `str` of length >= 1 - at `$.stop`"),
    ])
    def test_a_bad_field_is_a_reject(self, worker, stream, maker, migrated, change, error):
        import json

        data = json.loads(maker.board().to_json())
        data.update(change)
        stream.push_fields({"trip": json.dumps(data)})
        worker.drain(NOW)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 0
        assert totals(migrated, "ride_hour") == (0, 0, 0)
        with db.engine(migrated).connect() as conn:
            assert error in conn.execute(sa.text("SELECT error FROM ingest_rejects")).scalar()

    def test_unknown_fields_are_ignored(self, worker, stream, maker, migrated):
        """A newer validator may send more than this ingest knows."""
        import json

        data = {**json.loads(maker.board().to_json()), "firmware": "2.1"}
        stream.push_fields({"trip": json.dumps(data)})
        worker.drain(NOW)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 1


class TestRollupsAgainstRawTrips:
    def test_every_rollup_matches_counts_from_the_trips(self, worker_factory, stream, maker,
                                                        migrated):
        """A random day of scans on several routes, stops, vehicles and products, read by two
        workers in small batches with repeats: each rollup equals a GROUP BY of the raw trips."""
        rng = random.Random(5)
        with db.session(migrated) as session:
            from issuer.network import fleet

            fleet.add_company(session, "TRANSERCO", "Tổng công ty Vận tải Hà Nội", now=NOW)
            fleet.add_company(session, "BAOYEN", "Bảo Yến", now=NOW)
            for n in range(6):
                fleet.add_vehicle(session, f"29B-100.0{n}", "TRANSERCO" if n < 4 else "BAOYEN",
                                  now=NOW)
            session.commit()  # the fleet's services leave the transaction to their caller
        trips = []
        for _ in range(600):
            kind = rng.random()
            product = rng.choice(["single", "multi", "free"])
            kw = dict(at_ms=T0 + rng.randrange(0, 36 * 3600_000), pass_id=f"P{rng.randrange(80):09d}",
                      vehicle=f"29B-100.0{rng.randrange(7)}", route=rng.choice(["32", "E05", "01"]),
                      stop=rng.choice(["S01", "S02", "S03", None]), product=product,
                      category=rng.choice(["elderly", "child"]) if product == "free" else None)
            if kind < 0.6:
                trips.append(maker.board(**kw))
            elif kind < 0.85:
                trips.append(maker.alight(**kw))
            else:
                trips.append(maker.refused(rng.choice(["expired", "revoked", "stale_proof"]), **kw))
        pushed = trips + rng.sample(trips, 60)  # repeats
        rng.shuffle(pushed)
        stream.push(*pushed)
        workers = [worker_factory("a", batch=37), worker_factory("b", batch=53)]
        while any([w.step(NOW, wait=False) for w in workers]):
            pass
        assert stream.pending() == 0
        self._check(migrated, len(trips))

    @staticmethod
    def _check(url: str, n: int) -> None:
        flags = ("SUM(CASE WHEN decision = 'accept' AND mode = 'board' THEN 1 ELSE 0 END), "
                 "SUM(CASE WHEN decision = 'accept' AND mode = 'alight' THEN 1 ELSE 0 END), "
                 "SUM(CASE WHEN decision = 'refuse' THEN 1 ELSE 0 END)")
        pkey = ("CASE WHEN product = 'free' AND category IS NOT NULL THEN 'free:' || category "
                "ELSE COALESCE(product, '') END")
        hour = "at_ms / 1000 / 3600 * 3600"
        day = "(at_ms / 1000 + 25200) / 86400 * 86400 - 25200"
        company = "COALESCE(company, v.company_code, '')"
        cases = {
            "ride_hour": (f"{hour}, {pkey}", "hour, product"),
            "ride_hour_route": (f"{hour}, route, {pkey}", "hour, route, product"),
            "ride_day_route": (f"{day}, route, {pkey}", "day, route, product"),
            "ride_day_stop": (f"{day}, route, COALESCE(stop, '')", "day, route, stop"),
            "ride_day_vehicle": (f"{day}, vehicle, {pkey}", "day, vehicle, product"),
            "ride_day_company": (f"{day}, {company}", "day, company, product"),
        }
        with db.engine(url).connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM trips")).scalar() == n
            for table, (raw_keys, keys) in cases.items():
                if table == "ride_day_company":
                    raw_keys += f", {pkey}"
                raw = conn.execute(sa.text(
                    f"SELECT {raw_keys}, {flags} FROM trips t "
                    f"LEFT JOIN vehicles v ON v.code = t.vehicle GROUP BY {raw_keys}")).all()
                rolled = conn.execute(sa.text(
                    f"SELECT {keys}, boardings, alightings, refusals FROM {table}")).all()
                assert sorted(map(tuple, raw)) == sorted(map(tuple, rolled)), table
            raw = conn.execute(sa.text(
                f"SELECT {hour}, reason, COUNT(*) FROM trips WHERE decision = 'refuse' "
                f"GROUP BY {hour}, reason")).all()
            rolled = conn.execute(sa.text("SELECT hour, reason, refusals FROM refusal_hour")).all()
            assert sorted(map(tuple, raw)) == sorted(map(tuple, rolled))
            raw = conn.execute(sa.text(
                f"SELECT {day}, validator, COUNT(*), "
                f"SUM(CASE WHEN decision = 'refuse' THEN 1 ELSE 0 END) FROM trips "
                f"GROUP BY {day}, validator")).all()
            rolled = conn.execute(sa.text(
                "SELECT day, validator, scans, refusals FROM ride_day_validator")).all()
            assert sorted(map(tuple, raw)) == sorted(map(tuple, rolled))
            boardings = conn.execute(sa.text(
                "SELECT COUNT(*) FROM trips WHERE decision = 'accept' AND mode = 'board'")).scalar()
            # Every closed journey is an accepted boarding's; the rest of them are open.
            orphans = conn.execute(sa.text(
                "SELECT COUNT(*) FROM journeys j LEFT JOIN trips t ON t.id = j.boarding_id "
                "AND t.decision = 'accept' AND t.mode = 'board' WHERE t.id IS NULL")).scalar()
            closed = conn.execute(sa.text("SELECT COUNT(*) FROM journeys")).scalar()
            assert orphans == 0 and 0 < closed < boardings
            raw = conn.execute(sa.text(
                "SELECT day, route, origin_stop, COALESCE(destination_stop, ''), COUNT(*) "
                "FROM journeys GROUP BY day, route, origin_stop, COALESCE(destination_stop, '')"
            )).all()
            rolled = conn.execute(sa.text(
                "SELECT day, route, origin, destination, journeys FROM od_day "
                "WHERE journeys <> 0")).all()
            assert sorted(map(tuple, raw)) == sorted(map(tuple, rolled))
        assert models.OD_DAY.name == "od_day"


class TestPostgreSQLPlans:
    def test_the_neighbours_reads_are_planned_for_each_batch(self, worker_factory, stream,
                                                              maker, migrated):
        """psycopg prepares a query run five times; a prepared generic plan for "pass_id =
        ANY(<the batch's passes>)" can compare every row with every pass. The reads that
        take the batch's passes are never prepared."""
        if not migrated.startswith("postgresql"):
            pytest.skip("PostgreSQL's plans")
        worker = worker_factory(batch=1)
        for n in range(8):
            stream.push(maker.board(pass_id=f"P{n:09d}", at_ms=T0 + n * 60_000))
            worker.drain(NOW)
        with worker.engine.connect() as conn:  # the worker's pooled connection, back
            prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements"
                                            ).scalars().all()
            trips = conn.exec_driver_sql("SELECT COUNT(*) FROM trips").scalar()
        assert trips == 8 and any("INSERT INTO" in p for p in prepared)
        assert not [p for p in prepared if "ANY(" in p]


class TestStops:
    """Trips name GTFS stop ids (up to 64 characters) and how the validator knew the stop;
    trips of validators from before ``stop_by`` still count."""

    def test_a_located_stop_and_how_it_was_known_are_stored(self, worker, stream, maker,
                                                            migrated):
        stop = "HN_" + "7" * 61  # a GTFS stop_id as long as the stops table allows
        trip = msgspec.structs.replace(maker.board(stop=stop), stop_by="gps")
        stream.push(trip)
        worker.drain(NOW)
        with db.engine(migrated).connect() as conn:
            assert conn.execute(sa.text("SELECT stop, stop_by FROM trips")).one() == (stop,
                                                                                      "gps")
            assert conn.execute(sa.text("SELECT stop FROM ride_day_stop")).scalar() == stop

    def test_a_trip_of_an_older_validator_without_stop_by_still_counts(self, worker, stream,
                                                                       maker, migrated):
        import json

        data = json.loads(maker.board().to_json())
        del data["stop_by"]
        stream.push_fields({"trip": json.dumps(data)})
        worker.drain(NOW)
        with db.engine(migrated).connect() as conn:
            assert conn.execute(sa.text("SELECT stop, stop_by FROM trips")).one() == ("S01",
                                                                                      None)

    @pytest.mark.parametrize("change, error", [
        ({"stop_by": "satellite"}, "Invalid enum value 'satellite' - at `$.stop_by`"),
        ({"stop_by": 1}, "at `$.stop_by`"),
        ({"stop": "S" * 65}, "Expected `str` of length <= 64 - at `$.stop`"),
    ])
    def test_a_bad_stop_is_a_reject(self, worker, stream, maker, migrated, change, error):
        import json

        data = {**json.loads(maker.board().to_json()), **change}
        stream.push_fields({"trip": json.dumps(data)})
        worker.drain(NOW)
        assert count(migrated, "SELECT COUNT(*) FROM trips") == 0
        with db.engine(migrated).connect() as conn:
            assert error in conn.execute(sa.text("SELECT error FROM ingest_rejects")).scalar()
