"""Locust: a fleet of validators journaling and syncing to Redis at once, with the ingest
behind them writing the trips to PostgreSQL.

    .venv/bin/python -m loadtests.run fleet --users 100

Each user is one bus: it decides on scans of real passes (journaled durably, as on the
bus) and pushes its journal to the trips stream every second, as the sync loop does. A
watcher reads the ingested trips back and reports each one's lag from the scan on the bus
to its row in the database as an "ingest" request: that is the figure the console sees.
"""

from __future__ import annotations

import itertools
import os
import random
import tempfile
import time
from pathlib import Path

import gevent
import sqlalchemy as sa
from locust import User, constant_pacing, events, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from loadtests.system import load_pool
from shared import clock, keys, ticket
from validator.device import Validator
from validator.sync import Syncer, connect

PUSH_EVERY = 1.0  # seconds, as validator.sync.PUSH_EVERY
SCAN_EVERY = float(os.environ.get("VEXE_FLEET_SCAN_EVERY", "2"))  # seconds between scans a bus
BUS_NUMBERS = itertools.count(1)
WORKDIR = Path(tempfile.mkdtemp(prefix="vexe-fleet-"))
PHONES = None


def phones() -> list[tuple[str, object]]:
    global PHONES
    if PHONES is None:
        PHONES = [(rider["credential"], keys.load_device_private_pem(rider["device_pem"].encode()))
                  for rider in load_pool()["riders"] if not rider["custodial"]]
    return PHONES


class Bus(User):
    wait_time = constant_pacing(SCAN_EVERY)

    def on_start(self) -> None:
        number = next(BUS_NUMBERS)
        self.validator = Validator(validator_id=f"fleet-{number}", vehicle=f"29B-{number:05d}",
                                   route="01", data_dir=WORKDIR / f"bus-{number}", passback=0)
        self.client = connect(os.environ["VEXE_REDIS_URL"])
        self.sync = Syncer(self.validator.journal, self.validator.lists, self.client,
                           validator_id=f"fleet-{number}")
        self.sync.pull_once(clock.now())
        self.last_push = 0.0

    def on_stop(self) -> None:
        self._push()
        self.validator.close()
        self.client.close()

    @task
    def scan(self) -> None:
        credential, phone = random.choice(phones())
        now = clock.now()
        started = time.perf_counter()
        decision = self.validator.scan(ticket.encode_qr(credential, phone, now), now)
        error = None if decision.reason in ("ok", "wrong_route", "replayed") else \
            AssertionError(decision.reason)
        events.request.fire(request_type="bus", name="scan (journaled)",
                            response_time=(time.perf_counter() - started) * 1000,
                            response_length=0, exception=error, context={})
        if now - self.last_push >= PUSH_EVERY:
            self._push()

    def _push(self) -> None:
        started = time.perf_counter()
        error = None
        try:
            pushed = self.sync.push_all(clock.now())
        except Exception as exc:  # reported to Locust, the journal keeps the trips
            error, pushed = exc, 0
        self.last_push = clock.now()
        events.request.fire(request_type="bus", name="push to Redis",
                            response_time=(time.perf_counter() - started) * 1000,
                            response_length=pushed, exception=error, context={})


@events.test_start.add_listener
def _watch_ingest(environment, **_kwargs) -> None:
    """Report each ingested trip's lag, scan on the bus to row in the database."""
    url = os.environ.get("VEXE_DATABASE_URL")
    if not url:
        return

    def watch() -> None:
        engine = sa.create_engine(url)
        seen_ms = 0
        while True:
            gevent.sleep(1)
            with engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "SELECT ingested_ms, at_ms FROM trips WHERE ingested_ms > :seen "
                    "AND validator LIKE 'fleet-%' ORDER BY ingested_ms"), {"seen": seen_ms}).all()
            for ingested_ms, at_ms in rows:
                events.request.fire(request_type="ingest", name="scan to ingested",
                                    response_time=max(0, ingested_ms - at_ms),
                                    response_length=0, exception=None, context={})
            if rows:
                seen_ms = rows[-1][0]

    gevent.spawn(watch)


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
