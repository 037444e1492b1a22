"""The whole trip pipeline under injected faults, counted exactly.

Validators (each with its journal and its real sync thread) scan riders without pause, at
the front door of each bus as they board and at the rear as they get off; their trips go to
a private Redis; ``vexe ingest run`` processes carry them into the database.
Meanwhile Redis is killed (SIGKILL) and stays away for a stretch, and ingest workers are
killed (SIGKILL) wherever they are. At the end every count must match: what each validator
answered, what its journal holds, what the stream holds, what the database counts, and each
rider who got off closed the journey they boarded for.

Used by tests/hardening/test_faults_pipeline.py (a short run) and bench/soak_faults.py (a
long one). Every figure in the report is counted, not estimated.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
import sqlalchemy as sa
from redis.backoff import ExponentialBackoff

from issuer.platform import db
from shared import clock
from shared.redis_keys import TRIPS_GROUP, TRIPS_STREAM
from shared.trip import ACCEPT, ALIGHT, BOARD
from validator.device import Validator
from validator.sync import Syncer, connect
from hardening_testkit import VEXE, environment
from tests.testkit import ROUTE, Issuer, RedisServer, stream_trips, wait_for


@dataclass
class Plan:
    validators: int = 3
    seconds: float = 8.0  # how long the validators scan
    scan_every: float = 0.01  # seconds between scans on one validator
    outages: int = 1  # Redis killed and kept away this many times
    outage_seconds: float = 3.0
    ingest_kills: int = 3  # ingest workers killed at random moments
    seed: int = 1


@dataclass
class Report:
    scans: int = 0
    accepted: int = 0
    alighted: int = 0  # accepted at a rear door, each after the rider's accepted boarding
    refused: int = 0
    journaled: int = 0
    in_stream: int = 0
    distinct_in_stream: int = 0
    in_database: int = 0
    accepted_in_database: int = 0
    journeys_in_database: int = 0
    redis_kills: int = 0
    redis_down_seconds: float = 0.0
    ingest_kills: int = 0
    ingest_workers: int = 0
    lost: int = 0
    duplicated: int = 0
    per_validator: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(vars(self))


class Ingest:
    """``vexe ingest run`` processes, one at a time, each killed with SIGKILL on demand."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str):
        self.env = environment(VEXE_DATABASE_URL=database_url, VEXE_REDIS_URL=redis_url,
                               VEXE_DATA_DIR=str(workdir / "issuer"))
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.started = 0

    def start(self) -> None:
        self.started += 1
        log = open(self.workdir / f"ingest-{self.started}.log", "wb")
        # A new name each time, as a replacement host would have; the dead one's pending
        # entries are claimed after --claim-idle.
        self.proc = subprocess.Popen(
            [VEXE, "ingest", "run", "--consumer", f"ingest-{self.started}", "--batch", "300",
             "--claim-idle", "1"], env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        log.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def finish(self) -> dict:
        """Stop the running worker and let a last one take over everything still pending."""
        self.kill()
        time.sleep(1.2)  # past --claim-idle of the last worker's pending entries
        out = subprocess.run([VEXE, "ingest", "run", "--once", "--consumer", "final",
                              "--claim-idle", "1"], env=self.env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


class Fleet:
    """Validators scanning in threads, each with its own sync thread to Redis: on each bus
    one at the front door (new riders boarding) and one at the rear (riders who boarded it
    getting off)."""

    def __init__(self, workdir: Path, redis_url: str, issuer: Issuer, count: int,
                 scan_every: float, seed: int):
        self.issuer = issuer
        self.scan_every = scan_every
        self.random = random.Random(seed)
        self.stop_scanning = threading.Event()
        self.stop_syncing = threading.Event()
        self.devices: list[Validator] = []
        self.syncers: list[Syncer] = []
        self.clients: list[redis.Redis] = []
        self.answers: dict[str, list] = {}
        self.aboard: dict[str, list] = {}  # vehicle -> riders accepted at its front door
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        for n in range(count):
            vehicle = f"29B-{n + 1:03d}.01"
            self.aboard[vehicle] = []
            for vid, mode, stop in ((f"F{n + 1}", BOARD, "S01"), (f"F{n + 1}R", ALIGHT, "S09")):
                self._add(workdir, redis_url, vid, vehicle, mode, stop)

    def _add(self, workdir: Path, redis_url: str, vid: str, vehicle: str, mode: str,
             stop: str) -> None:
        device = Validator(validator_id=vid, vehicle=vehicle, route=ROUTE, mode=mode, stop=stop,
                           data_dir=workdir / f"validator-{vid}")
        device.lists.update_trust(self.issuer.trust.dumps())
        client = connect(redis_url)
        # Quick rounds and a short backoff, so the run's outages are long for the sync.
        syncer = Syncer(device.journal, device.lists, client, validator_id=vid,
                        push_every=0.05, batch_size=200,
                        backoff=ExponentialBackoff(cap=0.5, base=0.05))
        self.devices.append(device)
        self.syncers.append(syncer)
        self.clients.append(client)
        self.answers[vid] = []

    def start(self) -> None:
        for device, syncer in zip(self.devices, self.syncers):
            self._thread(syncer.run, self.stop_syncing)
            self._thread(self._scan if device.mode == BOARD else self._alight, device)

    def _thread(self, target, *args) -> None:
        thread = threading.Thread(target=self._guard, args=(target, *args), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 -- reported by the run, not lost
            self.errors.append(exc)

    def _scan(self, device: Validator) -> None:
        answers = self.answers[device.validator_id]
        shown = None
        n = 0
        while not self.stop_scanning.wait(self.scan_every):
            n += 1
            now = clock.now()
            if shown is not None and n % 5 == 0:
                text = shown  # the same QR shown again: refused as a replay
            else:
                rider = self.issuer.rider(now=now)
                text = rider.qr(now)
            scan = device.scan(text, now)
            answers.append((scan.trip.id if scan.trip else None, scan.reason))
            if scan.reason == "ok" and text is not shown:
                self.aboard[device.vehicle].append(rider)
            shown = text

    def _alight(self, device: Validator) -> None:
        """Riders of the bus getting off, in random order, each showing a fresh QR."""
        answers = self.answers[device.validator_id]
        aboard = self.aboard[device.vehicle]
        while not self.stop_scanning.wait(self.scan_every * 2):
            if not aboard:
                continue
            rider = aboard.pop(self.random.randrange(len(aboard)))
            now = clock.now()
            scan = device.scan(rider.qr(now), now)
            answers.append((scan.trip.id if scan.trip else None, scan.reason, ALIGHT))

    def backlog(self) -> int:
        return sum(device.journal.backlog() for device in self.devices)

    def close(self) -> None:
        self.stop_scanning.set()
        self.stop_syncing.set()
        for thread in self.threads:
            thread.join(30)
        for device, client in zip(self.devices, self.clients):
            device.close()
            client.close()


def run(workdir: Path, database_url: str, plan: Plan, log=print) -> Report:
    """Run the plan; the report of what was counted where. Raises AssertionError on any loss
    or double count, after the report is logged."""
    rng = random.Random(plan.seed)
    db.migrate(database_url)
    server = RedisServer(workdir / "redis", durable=True)
    server.start()
    issuer = Issuer()
    fleet = Fleet(workdir, server.url, issuer, plan.validators, plan.scan_every, plan.seed)
    ingest = Ingest(workdir, database_url, server.url)
    report = Report()
    try:
        ingest.start()
        fleet.start()
        # Faults at random moments in the scanning time: outages first chosen so that they
        # do not overlap, ingest kills anywhere.
        events = []
        span = plan.seconds / max(1, plan.outages)
        for k in range(plan.outages):
            begin = k * span + rng.uniform(0.1, max(0.2, span - plan.outage_seconds - 0.1))
            events.append((begin, "redis down"))
            events.append((begin + plan.outage_seconds, "redis up"))
        events += [(rng.uniform(0.2, plan.seconds), "kill ingest") for _ in range(plan.ingest_kills)]
        events.sort()
        started = time.monotonic()
        down_at = None
        for at, what in events:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if what == "redis down":
                server.kill()
                down_at = time.monotonic()
            elif what == "redis up":
                server.start()
                report.redis_down_seconds += time.monotonic() - down_at
            else:
                ingest.kill()
                report.ingest_kills += 1
                ingest.start()
        time.sleep(max(0.0, started + plan.seconds - time.monotonic()))
        fleet.stop_scanning.set()
        wait_for(lambda: fleet.backlog() == 0, timeout=120, what="every journal pushed")
        final = ingest.finish()
        report.redis_kills = server.kills
        report.ingest_workers = ingest.started + 1
        _count(report, fleet, server, database_url)
        log(json.dumps({"plan": vars(plan), "final_worker_entries": final["entries"],
                        **report.as_dict()}, ensure_ascii=False))
        assert not fleet.errors, fleet.errors
        _check(report, fleet)
        return report
    finally:
        fleet.close()
        ingest.kill()
        server.stop()
        db.dispose(database_url)


def _count(report: Report, fleet: Fleet, server: RedisServer, database_url: str) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        in_stream = stream_trips(client)
        pending = client.xpending(TRIPS_STREAM, TRIPS_GROUP)["pending"]
    finally:
        client.close()
    assert pending == 0, f"{pending} stream entries never acknowledged"
    ids = Counter(trip.id for trip in in_stream)
    journaled = {}
    for device in fleet.devices:
        journaled[device.validator_id] = device.journal.trips()
    all_journaled = {t.id for trips in journaled.values() for t in trips}
    with db.engine(database_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT id, decision, validator FROM trips")).all()
        per_validator_db = dict(conn.execute(sa.text(
            "SELECT validator, SUM(scans) FROM ride_day_validator GROUP BY validator")).all())
        boardings, alightings = conn.execute(sa.text(
            "SELECT SUM(boardings), SUM(alightings) FROM ride_hour")).one()
        report.journeys_in_database = conn.execute(sa.text(
            "SELECT COUNT(*) FROM journeys WHERE alighting_id IS NOT NULL")).scalar()
        journeys_od = conn.execute(sa.text(
            "SELECT SUM(journeys) FROM od_day WHERE origin = 'S01' AND destination = 'S09'"
        )).scalar()
    report.scans = sum(len(a) for a in fleet.answers.values())
    report.accepted = sum(a[1] == "ok" for answers in fleet.answers.values() for a in answers)
    report.alighted = sum(a[1] == "ok" and len(a) == 3 for answers in fleet.answers.values()
                          for a in answers)
    report.refused = report.scans - report.accepted
    report.journaled = len(all_journaled)
    report.in_stream = len(in_stream)
    report.distinct_in_stream = len(ids)
    report.duplicated = sum(n - 1 for n in ids.values())
    report.in_database = len(rows)
    report.accepted_in_database = sum(decision == ACCEPT for _, decision, _ in rows)
    report.lost = len(all_journaled - set(ids)) + len(all_journaled - {r[0] for r in rows})
    report.per_validator = {
        vid: {"answered": len(fleet.answers[vid]), "journaled": len(trips),
              "in_stream": sum(t.validator == vid for t in in_stream),
              "in_database": int(per_validator_db.get(vid, 0))}
        for vid, trips in journaled.items()}
    report.per_validator["_boardings_in_rollups"] = int(boardings or 0)
    report.per_validator["_alightings_in_rollups"] = int(alightings or 0)
    report.per_validator["_journeys_in_od"] = int(journeys_od or 0)


def _check(report: Report, fleet: Fleet) -> None:
    assert report.lost == 0 and report.duplicated == 0
    answered = {a[0] for answers in fleet.answers.values() for a in answers}
    assert None not in answered, "a scan was answered without being journaled"
    assert report.journaled == report.scans == len(answered)
    assert report.in_stream == report.distinct_in_stream == report.scans
    assert report.in_database == report.scans
    assert report.accepted_in_database == report.accepted
    rollups = (report.per_validator.pop("_boardings_in_rollups"),
               report.per_validator.pop("_alightings_in_rollups"))
    assert rollups == (report.accepted - report.alighted, report.alighted)
    # Every rider who got off had boarded that bus: each alighting closed a journey.
    assert report.journeys_in_database == report.alighted
    assert report.per_validator.pop("_journeys_in_od") == report.alighted
    for vid, counts in report.per_validator.items():
        assert counts["answered"] == counts["journaled"] == counts["in_stream"] \
            == counts["in_database"], (vid, counts)
