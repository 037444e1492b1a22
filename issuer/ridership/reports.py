"""What the console shows, read from the rollups (never a scan of the trips table, except a
pass's own history, which its index serves).

Every function returns plain data: lists of dicts with the same keys as the CSV columns.
Periods are whole Hanoi days, ``start`` to ``end`` inclusive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.errors import Invalid
from issuer.ridership import models
from issuer.ridership.buckets import DAY, HOUR, date_of, day_start
from shared import reasons

MAX_DAYS = 366
STALE_AFTER = 30 * 60  # seconds without a sync before a validator is flagged


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def lo(self) -> int:
        return day_start(self.start)

    @property
    def hi(self) -> int:
        """The start of the day after ``end``: hours and days are below it."""
        return day_start(self.end + dt.timedelta(days=1))

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def period(start: dt.date, end: dt.date) -> Period:
    if end < start:
        raise Invalid("the period ends before it starts")
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"a period is at most {MAX_DAYS} days")
    return Period(start, end)


def _sum(table: sa.Table, *measures: str):
    # PostgreSQL sums BIGINT as NUMERIC (a Decimal in Python): cast back to a whole number.
    return [sa.cast(sa.func.coalesce(sa.func.sum(table.c[m]), 0), sa.BigInteger).label(m)
            for m in measures]


THREE = ("boardings", "alightings", "refusals")


# -- boardings per hour --------------------------------------------------------------------

def hourly(session: Session, day: dt.date) -> list[dict]:
    """The day's 24 hours (Hanoi time), and the same hours on the same weekday a week before."""
    t = models.RIDE_HOUR
    this, before = day_start(day), day_start(day - dt.timedelta(days=7))
    counts: dict[int, dict] = {}
    for lo in (this, before):
        rows = session.execute(sa.select(t.c.hour, *_sum(t, *THREE))
                               .where(t.c.hour >= lo, t.c.hour < lo + DAY).group_by(t.c.hour))
        counts.update({row.hour: row._asdict() for row in rows})
    out = []
    for h in range(24):
        now_row = counts.get(this + h * HOUR, {})
        then_row = counts.get(before + h * HOUR, {})
        out.append({"hour": f"{h:02d}:00", "boardings": now_row.get("boardings", 0),
                    "alightings": now_row.get("alightings", 0),
                    "refusals": now_row.get("refusals", 0),
                    "boardings_last_week": then_row.get("boardings", 0)})
    return out


# -- per route, stop, product --------------------------------------------------------------

def by_route(session: Session, p: Period, limit: int | None = None) -> list[dict]:
    t = models.RIDE_DAY_ROUTE
    query = (sa.select(t.c.route, *_sum(t, *THREE)).where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.route).order_by(sa.desc("boardings"), t.c.route).limit(limit))
    return [row._asdict() for row in session.execute(query)]


def by_stop(session: Session, p: Period, route: str | None = None,
            limit: int | None = None) -> list[dict]:
    t = models.RIDE_DAY_STOP
    query = (sa.select(t.c.route, t.c.stop, *_sum(t, *THREE))
             .where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.route, t.c.stop).order_by(sa.desc("boardings"), t.c.route, t.c.stop)
             .limit(limit))
    if route is not None:
        query = query.where(t.c.route == route)
    return [row._asdict() for row in session.execute(query)]


def by_product(session: Session, p: Period) -> list[dict]:
    t = models.RIDE_DAY_ROUTE
    query = (sa.select(t.c.product, *_sum(t, *THREE)).where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.product).order_by(sa.desc("boardings"), t.c.product))
    return [{**row._asdict(), "product": row.product or "(unreadable)"}
            for row in session.execute(query)]


def by_vehicle(session: Session, p: Period, limit: int | None = None) -> list[dict]:
    t = models.RIDE_DAY_VEHICLE
    query = (sa.select(t.c.vehicle, *_sum(t, *THREE)).where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.vehicle).order_by(sa.desc("boardings"), t.c.vehicle).limit(limit))
    return [row._asdict() for row in session.execute(query)]


# -- refusals ------------------------------------------------------------------------------

def refusals(session: Session, p: Period) -> list[dict]:
    t = models.REFUSAL_HOUR
    query = (sa.select(t.c.reason, *_sum(t, "refusals"))
             .where(t.c.hour >= p.lo, t.c.hour < p.hi)
             .group_by(t.c.reason).order_by(sa.desc("refusals"), t.c.reason))
    return [{"reason": row.reason, **_message(row.reason), "refusals": row.refusals}
            for row in session.execute(query)]


def refusals_hourly(session: Session, day: dt.date) -> list[dict]:
    """Refusals per hour and reason on one day: a spike of one reason stands out."""
    t = models.REFUSAL_HOUR
    lo = day_start(day)
    rows = session.execute(sa.select(t.c.hour, t.c.reason, t.c.refusals)
                           .where(t.c.hour >= lo, t.c.hour < lo + DAY)
                           .order_by(t.c.hour, t.c.reason))
    return [{"hour": f"{(row.hour - lo) // HOUR:02d}:00", "reason": row.reason,
             "refusals": row.refusals} for row in rows]


def _message(code: str) -> dict:
    vi, en = reasons.MESSAGES.get(code, (code, code))
    return {"message_vi": vi, "message_en": en}


# -- origin-destination --------------------------------------------------------------------

OPEN_JOURNEY = ""  # destination of a journey with no alighting scan


def od_rows(session: Session, route: str, p: Period) -> list[dict]:
    t = models.OD_DAY
    query = (sa.select(t.c.origin, t.c.destination, *_sum(t, "journeys"))
             .where(t.c.route == route, t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.origin, t.c.destination).order_by(t.c.origin, t.c.destination))
    return [{"origin": row.origin or "(no stop)",
             "destination": "(open)" if row.destination == OPEN_JOURNEY else row.destination,
             "journeys": row.journeys} for row in session.execute(query) if row.journeys]


def od_matrix(rows: list[dict]) -> dict:
    """Boarding stop by alighting stop; "(open)" counts journeys with no alighting scan."""
    origins = sorted({r["origin"] for r in rows})
    closed = sorted({r["destination"] for r in rows} - {"(open)"})
    destinations = closed + (["(open)"] if any(r["destination"] == "(open)" for r in rows) else [])
    cells = {(r["origin"], r["destination"]): r["journeys"] for r in rows}
    return {"origins": origins, "destinations": destinations,
            "counts": [[cells.get((o, d), 0) for d in destinations] for o in origins],
            "journeys": sum(r["journeys"] for r in rows),
            "open": sum(r["journeys"] for r in rows if r["destination"] == "(open)")}


# -- settlement ----------------------------------------------------------------------------

def settlement(session: Session, p: Period) -> list[dict]:
    """Per company and day, the boardings its vehicles carried, by product."""
    t, c = models.RIDE_DAY_COMPANY, models.Company.__table__
    query = (sa.select(t.c.day, t.c.company, c.c.name, t.c.product, t.c.boardings,
                       t.c.alightings)
             .select_from(t.outerjoin(c, c.c.code == t.c.company))
             .where(t.c.day >= p.lo, t.c.day < p.hi, t.c.boardings + t.c.alightings > 0)
             .order_by(t.c.day, t.c.company, t.c.product))
    return [{"date": date_of(row.day).isoformat(), "company": row.company or "(unassigned)",
             "company_name": row.name or "", "product": row.product or "(unreadable)",
             "boardings": row.boardings, "alightings": row.alightings}
            for row in session.execute(query)]


# -- validators ----------------------------------------------------------------------------

def validators(session: Session, *, now: float, stale_after: int = STALE_AFTER) -> list[dict]:
    """Each validator's last scan and sync, delay, clock offset and today's refusal rate."""
    s, d = models.ValidatorStatus.__table__, models.RIDE_DAY_VALIDATOR
    today = day_start(date_of(int(now)))
    query = (sa.select(s, d.c.scans, d.c.refusals)
             .select_from(s.outerjoin(d, sa.and_(d.c.validator == s.c.validator,
                                                 d.c.day == today)))
             .order_by(s.c.last_sync_ms, s.c.validator))
    out = []
    for row in session.execute(query):
        since_sync = now - row.last_sync_ms / 1000
        scans = row.scans or 0
        out.append({"validator": row.validator, "vehicle": row.vehicle, "route": row.route,
                    "last_scan_ms": row.last_scan_ms, "last_sync_ms": row.last_sync_ms,
                    "since_sync_s": int(since_sync), "sync_delay_s": row.sync_delay_ms / 1000,
                    "clock_offset_s": row.clock_offset_s, "scans_today": scans,
                    "refusal_rate_today": round((row.refusals or 0) / scans, 4) if scans else None,
                    "stale": since_sync > stale_after})
    return out


# -- a pass's history ----------------------------------------------------------------------

def pass_history(session: Session, pass_id: str, limit: int = 500) -> list[dict]:
    """The pass's scans in time order, newest last, with the journey each closed or opened."""
    t, j = models.Trip.__table__, models.Journey.__table__
    query = (sa.select(t, j.c.alighting_id, j.c.destination_stop)
             .select_from(t.outerjoin(j, j.c.boarding_id == t.c.id))
             .where(t.c.pass_id == pass_id).order_by(t.c.at_ms.desc(), t.c.id.desc())
             .limit(limit))
    rows = list(session.execute(query))
    rows.reverse()
    return [{"id": row.id, "at_ms": row.at_ms, "mode": row.mode, "decision": row.decision,
             "reason": row.reason, **_message(row.reason), "vehicle": row.vehicle,
             "route": row.route, "stop": row.stop, "validator": row.validator,
             "product": row.product, "category": row.category,
             "closed_by": row.alighting_id, "destination": row.destination_stop}
            for row in rows]


# -- alerts --------------------------------------------------------------------------------

def alerts(session: Session, status: str | None = "open", limit: int = 500) -> list:
    a = models.CloneAlert
    query = sa.select(a).order_by(a.created_ms.desc(), a.id.desc()).limit(limit)
    if status is not None:
        query = query.where(a.status == status)
    return list(session.scalars(query))


def rejects_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(models.IngestReject)) or 0
