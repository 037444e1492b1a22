"""What the console shows, read from the rollups (never a scan of the trips table, except a
pass's own history, which its index serves).

Every function returns plain data: lists of dicts with the same keys as the CSV columns
(the validators: a :class:`Fleet`, whose rows are built for the slice asked for). Periods
are whole Hanoi days, ``start`` to ``end`` inclusive.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes import catalogue
from issuer.platform.errors import Invalid
from issuer.platform.models import Company
from backoffice import models, places
from backoffice.buckets import DAY, HOUR, date_of, day_start
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
    """Per route, with the route's name as the network has it (None: a route it lacks)."""
    t = models.RIDE_DAY_ROUTE
    query = (sa.select(t.c.route, *_sum(t, *THREE)).where(t.c.day >= p.lo, t.c.day < p.hi)
             .group_by(t.c.route).order_by(sa.desc("boardings"), t.c.route).limit(limit))
    rows = list(session.execute(query))
    names = places.route_names(session, (row.route for row in rows))
    return [{"route": row.route, "route_name": names.get(row.route),
             "boardings": row.boardings, "alightings": row.alightings,
             "refusals": row.refusals} for row in rows]


# A place's row of the stops table, in the CSV's column order.
STOP_COLUMNS = ("stop", "stop_name", "routes", *THREE, "lat", "lon")


def by_stop(session: Session, p: Period, route: str | None = None,
            limit: int | None = None) -> list[dict]:
    """Per place (``backoffice.places``): the stops at one place, of every route and
    direction, counted once; ``routes``: the route codes counted there. A stop the network
    lacks is its own place, without coordinates. The busiest first."""
    t = models.RIDE_DAY_STOP
    query = (sa.select(t.c.route, t.c.stop, *_sum(t, *THREE))
             .where(t.c.day >= p.lo, t.c.day < p.hi).group_by(t.c.route, t.c.stop))
    if route is not None:
        query = query.where(t.c.route == route)
    rows = list(session.execute(query))
    found = places.lookup(session, (row.stop for row in rows))
    merged: dict[str, dict] = {}
    routes: dict[str, set] = {}
    for row in rows:
        place = found[row.stop]
        entry = merged.get(place.key)
        if entry is None:
            entry = merged[place.key] = dict(zip(STOP_COLUMNS, (
                place.key, place.name, "", 0, 0, 0, place.lat, place.lon)))
            routes[place.key] = set()
        routes[place.key].add(row.route)
        for measure in THREE:
            entry[measure] += getattr(row, measure)
    for key, entry in merged.items():
        entry["routes"] = ", ".join(sorted(routes[key]))
    out = sorted(merged.values(), key=lambda r: (-r["boardings"], r["stop"]))
    return out[:limit] if limit is not None else out


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
    # Counted by place: the two directions' stop ids at one place are one origin (and one
    # destination); a stop the network lacks is its own.
    found = places.lookup(session, [r[0] for r in closed] + [r[1] for r in closed]
                          + list(still_open))
    cells: dict[tuple[str, str | None], int] = {}
    for origin, destination, journeys in closed:
        key = (found[origin].key, found[destination].key)
        cells[key] = cells.get(key, 0) + journeys
    for origin, n in still_open.items():
        key = (found[origin].key, None)
        cells[key] = cells.get(key, 0) + n
    names = {place.key: place.name for place in found.values()}
    rows = sorted(((o, d, n) for (o, d), n in cells.items() if n > 0),
                  key=lambda r: (r[0], r[1] is None, r[1] or ""))
    return [{"origin": origin, "origin_name": names[origin],
             "destination": OPEN if destination is None else destination,
             "destination_name": OPEN if destination is None else names[destination],
             "journeys": journeys} for origin, destination, journeys in rows]


OPEN = "(open)"  # the destination of a boarding no alighting scan has closed


def od_matrix(rows: list[dict]) -> dict:
    """Boarding place by alighting place; "(open)" counts journeys with no alighting scan.
    ``origin_names`` and ``destination_names``: the places' names, in the same order."""
    names = {r["origin"]: r["origin_name"] for r in rows}
    names.update({r["destination"]: r["destination_name"] for r in rows})
    origins = sorted({r["origin"] for r in rows})
    closed = sorted({r["destination"] for r in rows} - {OPEN})
    destinations = closed + ([OPEN] if any(r["destination"] == OPEN for r in rows) else [])
    cells = {(r["origin"], r["destination"]): r["journeys"] for r in rows}
    return {"origins": origins, "destinations": destinations,
            "origin_names": [names[o] for o in origins],
            "destination_names": [names[d] for d in destinations],
            "counts": [[cells.get((o, d), 0) for d in destinations] for o in origins],
            "journeys": sum(r["journeys"] for r in rows),
            "open": sum(r["journeys"] for r in rows if r["destination"] == OPEN)}


# -- settlement ----------------------------------------------------------------------------

def settlement(session: Session, p: Period) -> list[dict]:
    """Per company and day, the boardings its vehicles carried, by product."""
    t, c = models.RIDE_DAY_COMPANY, Company.__table__
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

# Flags, worst first; "stale" is also the row's ``stale``. "off": the ingest switched the
# validator's Redis user off, one of its keys over its bound (backoffice.inbox.police).
FLAGS = ("stale", "off", "unreadable", "storage", "backlog", "unsent", "clock")

# Every row has these keys, in this order (the CSV's columns).
VALIDATOR_COLUMNS = (
    "validator", "vehicle", "route", "mode", "heartbeat", "last_beat_ms", "since_beat_s",
    "backlog", "oldest_unsent_ms", "oldest_unsent_age_s", "clock_offset_redis_s", "storage",
    "storage_free_bytes", "software", "journal_epoch", "trust_kids", "denylist_issued_at",
    "last_scan_ms", "last_sync_ms", "since_sync_s", "sync_delay_s", "clock_offset_s",
    "scans_today", "refusal_rate_today", "stale", "flags", "heartbeat_problem")


# Rows of the table in one answer when no ``limit`` is asked for (the page, the JSON): the
# whole fleet's rows (6,000 validators) cost more to build and send than a screen shows.
PAGE = 100
# Validators in the refusal-rate chart.
WORST = 20


def validators(session: Session, *, now: float, beats: dict[str, dict] | None = None,
               stale_after: int = STALE_AFTER, switched_off=()) -> Fleet:
    """Each validator's health: its heartbeat (backoffice.heartbeats) beside what its
    trips tell (last scan and sync, delay, clock offset, today's refusal rate).

    ``beats`` is None when Redis could not be read: each row's ``heartbeat`` is then
    "unknown" and staleness is judged by the last sync of its trips. A validator known only
    by its heartbeat (no trips yet) has a row too. Silent validators first, then flagged
    ones, then the rest; within each, the one heard from longest ago first.
    ``switched_off``: the ids the ingest switched off, flagged "off" (a row each).
    """
    s, d = models.ValidatorStatus.__table__, models.RIDE_DAY_VALIDATOR
    today = day_start(date_of(int(now)))
    query = (sa.select(*(s.c[name] for name in _Synced._fields[:-2]), d.c.scans, d.c.refusals)
             .select_from(s.outerjoin(d, sa.and_(d.c.validator == s.c.validator,
                                                 d.c.day == today))))
    synced = {row[0]: _Synced._make(row) for row in session.execute(query)}
    beats_read = beats is not None
    beats = beats or {}
    off = set(switched_off)
    triaged = [_triage(name, synced.get(name), beats.get(name), beats_read, now, stale_after,
                       name in off)
               for name in set(synced) | set(beats) | off]
    triaged.sort()  # by rank, last seen, name: names differ, so no further field is compared
    return Fleet(triaged, now)


class Fleet:
    """Every validator triaged (whether it is stale, its flags), in the table's order. Rows
    of the table are built only for the slice asked for: the summaries (the silent, the
    flagged, the worst refusal rates) read the triage, which covers every validator."""

    def __init__(self, triaged: list[tuple], now: float):
        self._triaged = triaged
        self._now = now

    @property
    def total(self) -> int:
        return len(self._triaged)

    def rows(self, offset: int = 0, limit: int | None = None) -> list[dict]:
        """The table's rows from ``offset``, ``limit`` of them (None: to the end)."""
        return [dict(zip(VALIDATOR_COLUMNS, v)) for v in self.values(offset, limit)]

    def values(self, offset: int = 0, limit: int | None = None) -> list[list]:
        """The same rows as lists of values in ``VALIDATOR_COLUMNS`` order (the CSV)."""
        end = None if limit is None else offset + limit
        now = self._now
        return [_validator_values(t, now) for t in self._triaged[offset:end]]

    def stale(self) -> list[dict]:
        return [_brief(t) for t in self._triaged if t[_STALE]]

    def flagged(self) -> list[dict]:
        """Validators with a flag besides "stale" (a stale one may have one too)."""
        return [_brief(t) for t in self._triaged if t[_FLAGS] and t[_FLAGS] != ["stale"]]

    def worst(self, n: int = WORST) -> list[dict]:
        """The ``n`` highest refusal rates today, of validators that scanned today."""
        rated = [(-(s.refusals or 0) / s.scans, t[_NAME], s) for t in self._triaged
                 if (s := t[_SYNCED]) is not None and s.scans]
        return [{"validator": name, "refusal_rate_today": _rate(s)}
                for _, name, s in heapq.nsmallest(n, rated, key=lambda r: r[:2])]


class _Synced(NamedTuple):
    """What a validator's trips tell: its validator_status row and today's scans. A plain
    tuple (its fields read in C), not a SQLAlchemy row: the whole fleet's rows are read
    field by field on every request."""

    validator: str
    vehicle: str
    route: str
    last_scan_ms: int
    last_sync_ms: int
    sync_delay_ms: int
    clock_offset_s: int | None
    scans: int | None
    refusals: int | None


# A triaged validator is a tuple, not a dict: one is made for every validator on every
# request. (rank, last seen ms, validator, its validator_status row or None, its beat or
# None, heartbeat, stale, flags); the rank puts the silent first, then the flagged.
_NAME, _SYNCED, _BEAT, _HEARTBEAT, _STALE, _FLAGS = range(2, 8)


def _triage(name: str, synced, beat: dict | None, beats_read: bool, now: float,
            stale_after: int, off: bool = False) -> tuple:
    flags = []
    if not beats_read:
        heartbeat = "unknown"
    elif beat is None:
        heartbeat = "none"
    elif "unreadable" in beat:
        heartbeat = "unreadable"
        flags.append("unreadable")
    else:
        heartbeat = "ok"
        flags = _beat_flags(beat)
    # Alive is what the heartbeat says; without one, the last sync of its trips; with
    # neither, nothing shows it is alive.
    if heartbeat == "ok":
        stale = _since(now, beat["at"]) > stale_after
    else:
        stale = synced is None or int(now - synced.last_sync_ms / 1000) > stale_after
    if off:
        flags.insert(0, "off")
    if stale:
        flags.insert(0, "stale")
    seen = max(int(beat["at"] * 1000) if heartbeat == "ok" else -1,
               synced.last_sync_ms if synced is not None else -1)
    return (0 if stale else 1 if flags else 2, seen, name, synced, beat, heartbeat, stale,
            flags)


def _beat_flags(beat: dict) -> list[str]:
    """A readable beat's flags, in FLAGS order."""
    flags = []
    free = beat["storage_free_bytes"]
    if beat["storage"] not in (None, "ok") or (free is not None and free < LOW_STORAGE):
        flags.append("storage")
    if (beat["backlog"] or 0) >= BACKLOG_LIMIT:
        flags.append("backlog")
    if (_unsent_age(beat) or 0) > UNSENT_LIMIT:
        flags.append("unsent")
    offset = beat["clock_offset_s"]
    if offset is not None and abs(offset) > CLOCK_TOLERANCE:
        flags.append("clock")
    return flags


def _since(now: float, at: float) -> int:
    since = int(now - at)
    return since if since > 0 else 0


def _unsent_age(beat: dict) -> int | None:
    oldest = beat["oldest_unsent_ms"]
    if oldest is None:
        return None
    age = int(beat["at"] - oldest / 1000)
    return age if age > 0 else 0


def _rate(synced) -> float | None:
    return round((synced.refusals or 0) / synced.scans, 4) if synced.scans else None


def _vehicle(t: tuple) -> str | None:
    # The heartbeat says where the validator is now; its last trip, where it was then.
    beat, synced = t[_BEAT], t[_SYNCED]
    return ((beat.get("vehicle") if t[_HEARTBEAT] == "ok" else None)
            or (synced.vehicle if synced is not None else None))


def _brief(t: tuple) -> dict:
    beat = t[_BEAT]
    return {"validator": t[_NAME], "vehicle": _vehicle(t), "flags": t[_FLAGS],
            "heartbeat_problem": beat["unreadable"] if t[_HEARTBEAT] == "unreadable" else None}


_NO_BEAT = (None,) * 12  # the columns from last_beat_ms to denylist_issued_at


def _validator_values(t: tuple, now: float) -> list:
    """A validator's row of the table, in ``VALIDATOR_COLUMNS`` order."""
    synced, beat, heartbeat = t[_SYNCED], t[_BEAT], t[_HEARTBEAT]
    if synced is None:
        vehicle = route = last_scan = last_sync = since_sync = delay = offset = rate = None
        scans = 0
    else:
        vehicle, route = synced.vehicle, synced.route
        last_scan, last_sync = synced.last_scan_ms, synced.last_sync_ms
        since_sync = int(now - last_sync / 1000)
        delay, offset = synced.sync_delay_ms / 1000, synced.clock_offset_s
        scans, rate = synced.scans or 0, _rate(synced)
    mode, from_beat = None, _NO_BEAT
    if heartbeat == "ok":
        at = beat["at"]
        vehicle, route, mode = beat["vehicle"] or vehicle, beat["route"] or route, beat["mode"]
        from_beat = (int(at * 1000), _since(now, at), beat["backlog"], beat["oldest_unsent_ms"],
                     _unsent_age(beat), beat["clock_offset_s"], beat["storage"],
                     beat["storage_free_bytes"], beat["software"], beat["journal_epoch"],
                     beat["trust_kids"], beat["denylist_issued_at"])
    problem = beat["unreadable"] if heartbeat == "unreadable" else None
    return [t[_NAME], vehicle, route, mode, heartbeat, *from_beat, last_scan, last_sync,
            since_sync, delay, offset, scans, rate, t[_STALE], t[_FLAGS], problem]


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
    found = places.lookup(session, [r.stop for r in rows] + [r.destination_stop for r in rows])
    routes = places.route_names(session, (r.route for r in rows))
    return [{"id": row.id, "at_ms": row.at_ms, "mode": row.mode, "decision": row.decision,
             "reason": row.reason, **_message(row.reason), "vehicle": row.vehicle,
             "route": row.route, "route_name": routes.get(row.route), "stop": row.stop,
             "stop_name": found[row.stop].stop_name if row.stop else None,
             "validator": row.validator, "product": row.product, "category": row.category,
             "closed_by": row.alighting_id, "destination": row.destination_stop,
             "destination_name": (found[row.destination_stop].stop_name
                                  if row.destination_stop else None)}
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
