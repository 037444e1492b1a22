"""Ridership tables: the trips as validators journaled them, journeys, the rollups
the console reads, validators' state and cloned-pass alerts. The fleet (companies,
vehicles) is the network's: issuer.platform.models.

Scan times are Unix milliseconds (``*_ms``), as validators record them; rollup buckets are
Unix seconds of the start of an hour or of a day in Hanoi time. Rollup keys are never NULL
(PostgreSQL allows no NULL in a primary key): a missing stop or product is ``""``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from issuer.platform.models import Base, Time

Count = sa.BigInteger


class Trip(Base):
    """One scan, as the validator journaled it. The id is minted on the validator and begins
    with the scan time (the ingest refuses one that does not): the same trip arriving twice
    is one row. The key holds ``at_ms`` too, because on PostgreSQL the table is partitioned
    by month on it (issuer.platform.partitions) and a key must hold the partitions' column."""

    __tablename__ = "trips"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    validator: Mapped[str] = mapped_column(sa.String(64))
    vehicle: Mapped[str] = mapped_column(sa.String(32))
    route: Mapped[str] = mapped_column(sa.String(16))
    stop: Mapped[str | None] = mapped_column(sa.String(64))  # a GTFS stop_id (shared.trip)
    at_ms: Mapped[int] = mapped_column(Time, primary_key=True)
    decision: Mapped[str] = mapped_column(sa.String(8))
    reason: Mapped[str] = mapped_column(sa.String(32))
    pass_id: Mapped[str | None] = mapped_column(sa.String(16))
    product: Mapped[str | None] = mapped_column(sa.String(16))
    category: Mapped[str | None] = mapped_column(sa.String(32))
    proof_at: Mapped[int | None] = mapped_column(Time)
    mode: Mapped[str] = mapped_column(sa.String(8))
    company: Mapped[str | None] = mapped_column(sa.String(16))  # as the validator named it
    stop_by: Mapped[str | None] = mapped_column(sa.String(8))  # "gps", "manual"; None: unknown
    stream_ms: Mapped[int] = mapped_column(Time)  # when Redis took it (the entry id's time)
    ingested_ms: Mapped[int] = mapped_column(Time)

    __table_args__ = (
        # A pass's history, and the neighbours of a new scan for pairing and clone checks.
        sa.Index("ix_trips_pass_id_at_ms", "pass_id", "at_ms"),
        # The trips older than the retention (issuer.platform.upkeep.prune_trips).
        sa.Index("ix_trips_at_ms", "at_ms"),
        {"postgresql_partition_by": "RANGE (at_ms)"},
    )


class Journey(Base):
    """An accepted boarding closed by the pass's alighting scan on the same vehicle. A boarding
    no alighting has closed has no row: it is an open journey."""

    __tablename__ = "journeys"

    boarding_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    pass_id: Mapped[str] = mapped_column(sa.String(16))
    vehicle: Mapped[str] = mapped_column(sa.String(32))
    route: Mapped[str] = mapped_column(sa.String(16))
    day: Mapped[int] = mapped_column(Time)
    origin_stop: Mapped[str] = mapped_column(sa.String(64))
    boarded_ms: Mapped[int] = mapped_column(Time)
    alighting_id: Mapped[str | None] = mapped_column(sa.String(32))
    destination_stop: Mapped[str | None] = mapped_column(sa.String(64))
    alighted_ms: Mapped[int | None] = mapped_column(Time)

    __table_args__ = (sa.Index("ix_journeys_pass_id_boarded_ms", "pass_id", "boarded_ms"),)


def _counted(name: str, keys: list[tuple[str, sa.types.TypeEngine]],
             measures: tuple[str, ...] = ("boardings", "alightings", "refusals")) -> sa.Table:
    columns = [sa.Column(k, t, primary_key=True) for k, t in keys]
    columns += [sa.Column(m, Count, nullable=False, default=0) for m in measures]
    return sa.Table(name, Base.metadata, *columns)


Product = sa.String(48)  # "single", "multi", "free:elderly"; "" when the QR was unreadable

# The rollups. Each batch of new trips adds to them in the transaction that inserts the trips.
RIDE_HOUR = _counted("ride_hour", [("hour", Time), ("product", Product)])
RIDE_HOUR_ROUTE = _counted("ride_hour_route",
                           [("hour", Time), ("route", sa.String(16)), ("product", Product)])
RIDE_DAY_ROUTE = _counted("ride_day_route",
                          [("day", Time), ("route", sa.String(16)), ("product", Product)])
RIDE_DAY_STOP = _counted("ride_day_stop",
                         [("day", Time), ("route", sa.String(16)), ("stop", sa.String(64))])
RIDE_DAY_VEHICLE = _counted("ride_day_vehicle",
                            [("day", Time), ("vehicle", sa.String(32)), ("product", Product)])
# The company the validator named, else the vehicle's when the trip was ingested: a later
# move of the vehicle does not rewrite what a company was paid for.
RIDE_DAY_COMPANY = _counted("ride_day_company",
                            [("day", Time), ("company", sa.String(16)), ("product", Product)])
RIDE_DAY_VALIDATOR = _counted("ride_day_validator", [("day", Time), ("validator", sa.String(64))],
                              ("scans", "refusals"))
REFUSAL_HOUR = _counted("refusal_hour", [("hour", Time), ("reason", sa.String(32))],
                        ("refusals",))
# Closed journeys by boarding day ("" for an alighting scan with no stop). The open ones are
# the boardings at a stop (RIDE_DAY_STOP) less the journeys closed from it.
OD_DAY = _counted("od_day", [("day", Time), ("route", sa.String(16)), ("origin", sa.String(64)),
                             ("destination", sa.String(64))], ("journeys",))
# The matrix is asked for one route over a period: without this, a month's rows of every route.
sa.Index("ix_od_day_route_day", OD_DAY.c.route, OD_DAY.c.day)

ROLLUPS = (RIDE_HOUR, RIDE_HOUR_ROUTE, RIDE_DAY_ROUTE, RIDE_DAY_STOP, RIDE_DAY_VEHICLE,
           RIDE_DAY_COMPANY, RIDE_DAY_VALIDATOR, REFUSAL_HOUR, OD_DAY)


class ValidatorStatus(Base):
    """What the trips tell about a validator: its latest scan, when Redis got it, its clock."""

    __tablename__ = "validator_status"

    validator: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    vehicle: Mapped[str] = mapped_column(sa.String(32))
    route: Mapped[str] = mapped_column(sa.String(16))
    last_scan_ms: Mapped[int] = mapped_column(Time)
    last_sync_ms: Mapped[int] = mapped_column(Time)  # Redis time of its newest entry
    last_ingest_ms: Mapped[int] = mapped_column(Time)
    # Scan to Redis for its latest trip: how long scans waited in the journal.
    sync_delay_ms: Mapped[int] = mapped_column(Time)
    # Validator clock minus the phones' (median over a batch of scans with a proof time).
    clock_offset_s: Mapped[int | None] = mapped_column(sa.Integer)


class CloneAlert(Base):
    """The same pass boarding two vehicles too close in time for one rider."""

    __tablename__ = "clone_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[str] = mapped_column(sa.String(16), index=True)
    first_trip_id: Mapped[str] = mapped_column(sa.String(32))
    second_trip_id: Mapped[str] = mapped_column(sa.String(32))
    first_vehicle: Mapped[str] = mapped_column(sa.String(32))
    second_vehicle: Mapped[str] = mapped_column(sa.String(32))
    first_at_ms: Mapped[int] = mapped_column(Time)
    second_at_ms: Mapped[int] = mapped_column(Time)
    created_ms: Mapped[int] = mapped_column(Time)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    resolved_at: Mapped[int | None] = mapped_column(Time)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (
        sa.UniqueConstraint("first_trip_id", "second_trip_id"),
        sa.CheckConstraint("status IN ('open', 'dismissed', 'revoked')", name="status"),
        sa.Index("ix_clone_alerts_status_created_ms", "status", "created_ms"),
    )


class IngestReject(Base):
    """A stream entry that is not a trip: kept for a person to look at, counted nowhere."""

    __tablename__ = "ingest_rejects"

    entry_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    received_ms: Mapped[int] = mapped_column(Time)
    error: Mapped[str] = mapped_column(sa.String(300))
    raw: Mapped[str] = mapped_column(sa.Text)


class IngestLog(Base):
    """PostgreSQL: each batch's passes, written under the ingest's lock, so that a worker
    that paired its batch before the lock finds what was committed meanwhile. The last
    batches only (``store.LOG_KEEP``); unused on SQLite, where the rowid tells."""

    __tablename__ = "ingest_log"

    seq: Mapped[int] = mapped_column(primary_key=True)
    passes: Mapped[str] = mapped_column(sa.Text)  # the pass ids, a JSON array
