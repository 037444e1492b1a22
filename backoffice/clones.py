"""Cloned passes: one pass boarding two vehicles too close in time to be one rider.

Two accepted boardings of a pass on different vehicles within ``window_ms`` raise an alert
with both scans, unless the pass alighted the first vehicle in between (a quick transfer,
told by the rider's own alighting scan). Two boardings on the same vehicle never do: that is
passback, which the validator handles. An operator revokes the pass from the alert, or
dismisses the alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes import passes, revocation
from issuer.platform.errors import Conflict, NotFound
from backoffice.models import CloneAlert
from backoffice.pairing import ORDER, PASS, Scan

DEFAULT_WINDOW_MINUTES = 5
OPEN, DISMISSED, REVOKED = "open", "dismissed", "revoked"


@dataclass(frozen=True)
class Suspect:
    first: Scan
    second: Scan


def detect(context: Iterable[Scan], new_ids: set[str], window_ms: int) -> list[Suspect]:
    """Pairs of boardings that involve at least one new scan, each pair once. ``context`` has
    each pass's scans together (as ``pairing.plan`` takes it)."""
    found: dict[tuple[str, str], Suspect] = {}
    for _, group in groupby(context, key=PASS):
        scans = list(group)
        if len(scans) < 2:  # most passes in a batch
            continue
        boardings = sorted((s for s in scans if not s.alighting), key=ORDER)
        if len(boardings) < 2 or not any(s.id in new_ids for s in scans):
            continue
        alightings = [s for s in scans if s.alighting]
        for i, first in enumerate(boardings):
            for second in boardings[i + 1:]:
                if second.at_ms - first.at_ms > window_ms:
                    break
                if second.vehicle == first.vehicle:
                    continue
                if first.id not in new_ids and second.id not in new_ids:
                    continue
                if _alighted_between(alightings, first, second):
                    continue
                found[(first.id, second.id)] = Suspect(first, second)
    return list(found.values())


def _alighted_between(alightings: list[Scan], first: Scan, second: Scan) -> bool:
    return any(a.vehicle == first.vehicle and first.at_ms <= a.at_ms <= second.at_ms
               for a in alightings)


INSERT = sa.text(
    "INSERT INTO clone_alerts (pass_id, first_trip_id, second_trip_id, first_vehicle, "
    "second_vehicle, first_at_ms, second_at_ms, created_ms, status) "
    "VALUES (:pass_id, :first_trip_id, :second_trip_id, :first_vehicle, :second_vehicle, "
    ":first_at_ms, :second_at_ms, :created_ms, 'open') "
    "ON CONFLICT (first_trip_id, second_trip_id) DO NOTHING")


def raise_alerts(conn: sa.Connection, suspects: list[Suspect], *, now_ms: int) -> None:
    rows = [{"pass_id": s.first.pass_id, "first_trip_id": s.first.id,
             "second_trip_id": s.second.id, "first_vehicle": s.first.vehicle,
             "second_vehicle": s.second.vehicle, "first_at_ms": s.first.at_ms,
             "second_at_ms": s.second.at_ms, "created_ms": now_ms} for s in suspects]
    if rows:
        conn.execute(INSERT, rows)


# -- what operators do with an alert -------------------------------------------------------

def get(session: Session, alert_id: int, *, for_update: bool = False) -> CloneAlert:
    alert = session.get(CloneAlert, alert_id, with_for_update=for_update,
                        populate_existing=for_update)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def dismiss(session: Session, alert_id: int, *, by: str, now: float) -> CloneAlert:
    """Close the alert, keeping the pass; the caller commits."""
    alert = _open(session, alert_id)
    alert.status, alert.resolved_at, alert.resolved_by = DISMISSED, int(now), by
    session.flush()
    return alert


def revoke(session: Session, alert_id: int, *, by: str, now: float,
           code: str = revocation.CLONED_QR, note: str | None = None) -> CloneAlert:
    """Revoke the alert's pass for ``code`` (the operator's note kept with it) and close
    every open alert about that pass; the caller commits, then publishes the denylist."""
    reason = revocation.get(code)
    alert = _open(session, alert_id)
    pass_id = alert.pass_id
    p = passes.get(session, pass_id)  # a 404 before anything changes
    session.execute(sa.update(CloneAlert)
                    .where(CloneAlert.pass_id == pass_id, CloneAlert.status == OPEN)
                    .values(status=REVOKED, resolved_at=int(now), resolved_by=by))
    if p.status != passes.REVOKED:
        text = f"{reason.code}: alert {alert_id}" + (f": {note}" if note else "")
        passes.revoke(session, pass_id, text, now=now, code=reason.code)
    return get(session, alert_id, for_update=False)


def _open(session: Session, alert_id: int) -> CloneAlert:
    alert = get(session, alert_id, for_update=True)
    if alert.status != OPEN:
        raise Conflict(f"alert {alert_id} is already {alert.status}")
    return alert


def as_dict(alert: CloneAlert) -> dict:
    return {"id": alert.id, "pass_id": alert.pass_id, "status": alert.status,
            "first": {"trip_id": alert.first_trip_id, "vehicle": alert.first_vehicle,
                      "at_ms": alert.first_at_ms},
            "second": {"trip_id": alert.second_trip_id, "vehicle": alert.second_vehicle,
                       "at_ms": alert.second_at_ms},
            "gap_s": (alert.second_at_ms - alert.first_at_ms) / 1000,
            "created_ms": alert.created_ms, "resolved_at": alert.resolved_at,
            "resolved_by": alert.resolved_by}
