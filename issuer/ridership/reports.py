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

from issuer import catalogue
from issuer.errors import Invalid
from issuer.ridership import models
from issuer.ridership.buckets import DAY, HOUR, date_of, day_start
from shared import reasons

MAX_DAYS = 366
# Seconds without a heartbeat (without one known, without a sync) before a validator is flagged.
STALE_AFTER = 30 * 60


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
    """Per product, free passes per category (``free:elderly``): the code, for machines, and
    the names the catalogue gives it."""
    t = models.RIDE_DAY_ROUTE
    query = (sa.select(t.c.product, *_sum(t, *THREE)).where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.product).order_by(sa.desc("boardings"), t.c.product))
    names = catalogue.product_names(session)
    return [catalogue.name_product(names, {**row._asdict(),
                                           "product": row.product or catalogue.UNREADABLE})
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

def od_rows(session: Session, route: str, p: Period) -> list[dict]:
    """Journeys from each boarding stop to each alighting stop, and "(open)": the accepted
    boardings at the stop that no alighting scan has closed (journeys are stored once
    closed, so these are the boardings less the closed journeys)."""
    t, s = models.OD_DAY, models.RIDE_DAY_STOP
    query = (sa.select(t.c.origin, t.c.destination, *_sum(t, "journeys"))
             .where(t.c.route == route, t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.origin, t.c.destination).order_by(t.c.origin, t.c.destination))
    closed = [(row.origin, row.destination, row.journeys) for row in session.execute(query)
              if row.journeys]
    boarded = session.execute(
        sa.select(s.c.stop, *_sum(s, "boardings"))
        .where(s.c.route == route, s.c.day >= p.lo, s.c.day < p.hi).group_by(s.c.stop))
    still_open = {row.stop: row.boardings for row in boarded}
    for origin, _, journeys in closed:
        still_open[origin] = still_open.get(origin, 0) - journeys
    rows = closed + [(origin, None, n) for origin, n in still_open.items() if n > 0]
    rows.sort(key=lambda r: (r[0], r[1] is None, r[1] or ""))
    return [{"origin": origin or "(no stop)",
             "destination": "(open)" if destination is None else destination or "(no stop)",
             "journeys": journeys} for origin, destination, journeys in rows]


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

# What the Validators page flags. A validator beats every 30 s or so and pushes every second
# while Redis answers: anything well past that is a validator, or a link, to look at.
BACKLOG_LIMIT = 1000  # trips waiting on the bus
UNSENT_LIMIT = 15 * 60  # seconds the oldest waiting trip has waited, at the heartbeat
CLOCK_TOLERANCE = 5.0  # seconds between the validator's clock and Redis's (its own warning)
LOW_STORAGE = 64 * 1024 * 1024  # bytes left for the journal

# Flags, worst first; "stale" is also the row's ``stale``.
FLAGS = ("stale", "unreadable", "storage", "backlog", "unsent", "clock")

# Every row has these keys, in this order (the CSV's columns).
VALIDATOR_COLUMNS = (
    "validator", "vehicle", "route", "mode", "heartbeat", "last_beat_ms", "since_beat_s",
    "backlog", "oldest_unsent_ms", "oldest_unsent_age_s", "clock_offset_redis_s", "storage",
    "storage_free_bytes", "software", "journal_epoch", "trust_kids", "denylist_issued_at",
    "last_scan_ms", "last_sync_ms", "since_sync_s", "sync_delay_s", "clock_offset_s",
    "scans_today", "refusal_rate_today", "stale", "flags", "heartbeat_problem")


def validators(session: Session, *, now: float, beats: dict[str, dict] | None = None,
               stale_after: int = STALE_AFTER) -> list[dict]:
    """Each validator's health: its heartbeat (issuer.ridership.heartbeats) beside what its
    trips tell (last scan and sync, delay, clock offset, today's refusal rate).

    ``beats`` is None when Redis could not be read: each row's ``heartbeat`` is then
    "unknown" and staleness is judged by the last sync of its trips. A validator known only
    by its heartbeat (no trips yet) has a row too. Silent validators first.
    """
    s, d = models.ValidatorStatus.__table__, models.RIDE_DAY_VALIDATOR
    today = day_start(date_of(int(now)))
    query = (sa.select(s, d.c.scans, d.c.refusals)
             .select_from(s.outerjoin(d, sa.and_(d.c.validator == s.c.validator,
                                                 d.c.day == today))))
    synced = {row.validator: row for row in session.execute(query)}
    names = set(synced) | set(beats or ())
    out = [_validator_row(name, synced.get(name), None if beats is None else beats.get(name),
                          beats is not None, now, stale_after) for name in names]
    out.sort(key=lambda r: (_last_seen(r), r["validator"]))
    return out


def _last_seen(row: dict) -> float:
    seen = [ms for ms in (row["last_beat_ms"], row["last_sync_ms"]) if ms is not None]
    return max(seen) if seen else -1


def _validator_row(name: str, synced, beat: dict | None, beats_read: bool, now: float,
                   stale_after: int) -> dict:
    row = dict.fromkeys(VALIDATOR_COLUMNS)
    row["validator"] = name
    if synced is not None:
        scans = synced.scans or 0
        row.update(vehicle=synced.vehicle, route=synced.route,
                   last_scan_ms=synced.last_scan_ms, last_sync_ms=synced.last_sync_ms,
                   since_sync_s=int(now - synced.last_sync_ms / 1000),
                   sync_delay_s=synced.sync_delay_ms / 1000,
                   clock_offset_s=synced.clock_offset_s, scans_today=scans,
                   refusal_rate_today=(round((synced.refusals or 0) / scans, 4)
                                       if scans else None))
    else:
        row["scans_today"] = 0
    flags = []
    if not beats_read:
        row["heartbeat"] = "unknown"
    elif beat is None:
        row["heartbeat"] = "none"
    elif "unreadable" in beat:
        row["heartbeat"] = "unreadable"
        row["heartbeat_problem"] = beat["unreadable"]
        flags.append("unreadable")
    else:
        row["heartbeat"] = "ok"
        _beat_into(row, beat, now)
        if (row["storage"] not in (None, "ok") or (row["storage_free_bytes"] is not None
                                                   and row["storage_free_bytes"] < LOW_STORAGE)):
            flags.append("storage")
        if (row["backlog"] or 0) >= BACKLOG_LIMIT:
            flags.append("backlog")
        if (row["oldest_unsent_age_s"] or 0) > UNSENT_LIMIT:
            flags.append("unsent")
        if row["clock_offset_redis_s"] is not None and abs(
                row["clock_offset_redis_s"]) > CLOCK_TOLERANCE:
            flags.append("clock")
    # Alive is what the heartbeat says; without one, the last sync of its trips; with
    # neither, nothing shows it is alive.
    if row["heartbeat"] == "ok":
        row["stale"] = row["since_beat_s"] > stale_after
    else:
        row["stale"] = row["since_sync_s"] is None or row["since_sync_s"] > stale_after
    if row["stale"]:
        flags.append("stale")
    row["flags"] = sorted(flags, key=FLAGS.index)
    return row


def _beat_into(row: dict, beat: dict, now: float) -> None:
    at = beat["at"]
    oldest = beat["oldest_unsent_ms"]
    # The heartbeat says where the validator is now; its last trip, where it was then.
    for name in ("vehicle", "route"):
        row[name] = beat[name] or row[name]
    row.update(mode=beat["mode"], last_beat_ms=int(at * 1000), since_beat_s=max(0, int(now - at)),
               backlog=beat["backlog"], oldest_unsent_ms=oldest,
               oldest_unsent_age_s=(max(0, int(at - oldest / 1000))
                                    if oldest is not None else None),
               clock_offset_redis_s=beat["clock_offset_s"], storage=beat["storage"],
               storage_free_bytes=beat["storage_free_bytes"], software=beat["software"],
               journal_epoch=beat["journal_epoch"], trust_kids=beat["trust_kids"],
               denylist_issued_at=beat["denylist_issued_at"])


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
