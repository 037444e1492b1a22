"""Ridership as TIDES, the Transit ITS Data Exchange Specification (github.com/TIDES-transit):
``fare_transactions.csv``, ``passenger_events.csv`` and ``devices.csv``, each with every
column of its table schema, in the schema's order.

What vexe knows and how it maps:

- An accepted scan is a fare transaction (``Enter`` at a boarding validator, ``Exit`` at an
  alighting one) of amount 0 VND: the rider paid for the pass when buying it, and a tap
  charges nothing. It is also a passenger event (``Passenger boarded``/``alighted``). A
  refused scan charged nothing and let no one in: it is in neither table (the console
  counts refusals).
- ``token_id`` is a keyed pseudonym of the pass id (``issuer.platform.vault.pseudonymiser``),
  never the pass id itself: a pass's trips link to one another from one export to the next,
  and without the server's key nothing links them to a pass or a rider.
- ``stop_id`` is the GTFS stop id the validator recorded when the network has that stop;
  text a driver set that names no stop of the network is left out (the column references
  GTFS stops).
- vexe has no schedule and no vehicle locations: ``trip_id_performed`` is empty, and
  ``trip_stop_sequence`` numbers the stops a vehicle served (as its validators saw them)
  through its service day, from 1, one more at each change of stop.
- ``pattern_id`` is ``<route>:<direction>`` (``32:0``), the stop sequence the network import
  keeps for each route and direction, when the stop is on exactly one of its route's two;
  empty otherwise. It tells planners which way the rider was going.
- ``fare_product`` and ``rider_category`` are the ids of ``backoffice.gtfs_fares``
  (``multi``, ``free:elderly``; ``general`` for full fare), so the two exports join.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import models, places
from backoffice.buckets import date_of, day_of
from backoffice.gtfs_fares import GENERAL, fare_product_id
from backoffice.reports import Period
from issuer.platform.models import RouteStop
from shared.trip import ACCEPT, ALIGHT, BOARD

FARE_TRANSACTIONS = (
    "transaction_id", "service_date", "event_timestamp", "location_ping_id", "amount",
    "currency_type", "fare_action", "trip_id_performed", "trip_id_scheduled", "pattern_id",
    "trip_stop_sequence", "scheduled_stop_sequence", "vehicle_id", "device_id", "fare_id",
    "stop_id", "num_riders", "fare_media_id", "rider_category", "fare_product", "fare_period",
    "fare_capped", "token_id", "balance")
PASSENGER_EVENTS = (
    "passenger_event_id", "service_date", "event_timestamp", "location_ping_id",
    "trip_id_performed", "trip_id_scheduled", "trip_stop_sequence", "scheduled_stop_sequence",
    "event_type", "vehicle_id", "device_id", "train_car_id", "stop_id", "pattern_id",
    "event_count")
DEVICES = ("device_id", "stop_id", "vehicle_id", "train_car_id", "device_type",
           "device_vendor", "device_model", "device_location")
TABLES = {"fare_transactions": FARE_TRANSACTIONS, "passenger_events": PASSENGER_EVENTS,
          "devices": DEVICES}

CURRENCY = "VND"
FARE_MEDIUM = "Optical scan"  # a QR code shown on a phone
DEVICE_TYPE = "Farebox"  # TIDES' name for the fare device on board
DEVICE_MODEL = "vexe validator"
ACTION = {BOARD: "Enter"}  # any other mode: "Exit"
EVENT = {BOARD: "Passenger boarded"}  # any other mode: "Passenger alighted"
WHERE = {frozenset({BOARD}): "Boarding door", frozenset({ALIGHT}): "Alighting door"}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
BATCH = 5000  # rows read from the database at a time: an export of a month streams


@dataclass
class _Device:
    vehicle: str
    at_ms: int
    modes: set = field(default_factory=set)


def export(session: Session, period: Period, out: Path,
           pseudonym: Callable[[str], str]) -> dict:
    """Write the three tables of ``period``'s accepted scans into ``out`` (created if
    missing). Each file appears whole or not at all (written aside, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    lo, hi = period.lo * 1000, period.hi * 1000
    t = models.Trip.__table__
    within = sa.and_(t.c.decision == ACCEPT, t.c.at_ms >= lo, t.c.at_ms < hi)
    stops = places.lookup(session, session.scalars(sa.select(t.c.stop).where(within)
                                                   .distinct()))
    pattern = _patterns(session)
    devices: dict[str, _Device] = {}
    scans = session.execute(
        sa.select(t.c.id, t.c.validator, t.c.vehicle, t.c.route, t.c.stop, t.c.at_ms, t.c.mode,
                  t.c.pass_id, t.c.product, t.c.category)
        .where(within).order_by(t.c.vehicle, t.c.at_ms, t.c.id)
        .execution_options(yield_per=BATCH))
    writers: list[_Writer] = []
    try:
        for name in TABLES:
            writers.append(_Writer(out, name))
        fares, events, table = writers
        for scan, day, sequence in _sequenced(scans):
            stop = stops[scan.stop].stop_id or ""
            fare, event = _rows(scan, day, sequence, stop, pattern.get((scan.route, stop), ""),
                                pseudonym)
            fares.row(fare)
            events.row(event)
            _seen(devices, scan)
        for name, device in sorted(devices.items()):
            table.row((name, "", device.vehicle, "", DEVICE_TYPE, "", DEVICE_MODEL,
                       WHERE.get(frozenset(device.modes), "Boarding and alighting doors")))
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    for writer in writers:
        writer.keep()
    return {"from": period.start.isoformat(), "to": period.end.isoformat(),
            "out": str(out), "fare_transactions": fares.count,
            "passenger_events": events.count, "devices": table.count,
            "token_id": "pseudonym: HMAC-SHA256 of the pass id under the server's key"}


def _patterns(session: Session) -> dict[tuple[str, str], str]:
    """(route, stop id) -> the pattern id of the one direction of the route serving it."""
    directions: dict[tuple[str, str], set[int]] = {}
    for route, direction, stop in session.execute(
            sa.select(RouteStop.route_code, RouteStop.direction, RouteStop.stop_id)):
        directions.setdefault((route, stop), set()).add(direction)
    return {key: f"{key[0]}:{min(found)}" for key, found in directions.items()
            if len(found) == 1}


def _rows(scan, day: str, sequence: int, stop: str, pattern: str,
          pseudonym) -> tuple[tuple, tuple]:
    """A scan's row of fare_transactions and of passenger_events, in their columns' order."""
    when = _timestamp(scan.at_ms)
    product = fare_product_id(scan.product, scan.category) if scan.product else ""
    token = pseudonym(scan.pass_id) if scan.pass_id else ""
    fare = (scan.id, day, when, "", 0, CURRENCY, ACTION.get(scan.mode, "Exit"), "", "",
            pattern, sequence, "", scan.vehicle, scan.validator, "", stop, 1, FARE_MEDIUM,
            scan.category or GENERAL, product, "", "false", token, "")
    event = (scan.id, day, when, "", "", "", sequence, "",
             EVENT.get(scan.mode, "Passenger alighted"), scan.vehicle, scan.validator, "",
             stop, pattern, 1)
    return fare, event


def _seen(devices: dict[str, _Device], scan) -> None:
    device = devices.get(scan.validator)
    if device is None:
        device = devices[scan.validator] = _Device(scan.vehicle, scan.at_ms)
    elif scan.at_ms >= device.at_ms:  # where it was last: a validator may move
        device.vehicle, device.at_ms = scan.vehicle, scan.at_ms
    device.modes.add(scan.mode)


def _sequenced(scans) -> Iterator[tuple]:
    """Each scan (in vehicle and time order) with its service date and its stop's place in
    the vehicle's day: 1 for the first stop, one more at each change of stop."""
    current, sequence, last_stop = None, 0, None
    for scan in scans:
        day = day_of(scan.at_ms)
        if (scan.vehicle, day) != current:
            current, sequence, last_stop = (scan.vehicle, day), 1, scan.stop
        elif scan.stop != last_stop:
            sequence, last_stop = sequence + 1, scan.stop
        yield scan, date_of(day).isoformat(), sequence


def _timestamp(at_ms: int) -> str:
    """UTC, to the millisecond, as Table Schema's default datetime ("...Z")."""
    moment = dt.datetime.fromtimestamp(at_ms / 1000, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at_ms % 1000:03d}Z"


class _Writer:
    """One table's CSV, written beside its final name and renamed into it once all three
    are complete: an export that fails leaves the files of the one before as they were.
    Owner-only: pseudonymous trips are still personal data."""

    def __init__(self, out: Path, name: str):
        self.path = out / f"{name}.csv"
        self.aside = out / f".{name}.csv.{os.getpid()}.tmp"
        self.count = 0
        # Never through a file or link someone else left there under that name.
        fd = os.open(self.aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.file, lineterminator="\r\n")
        self.writer.writerow(TABLES[name])

    def row(self, values: tuple) -> None:
        self.writer.writerow(values)
        self.count += 1

    def keep(self) -> None:
        self.file.close()
        os.replace(self.aside, self.path)

    def discard(self) -> None:
        self.file.close()
        self.aside.unlink(missing_ok=True)
