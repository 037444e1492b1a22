"""What an administrator does to the network, as one unit of work each: the change and its
audit entry in one transaction (:func:`issuer.platform.audit.action`). The command line and
the JSON API call these functions, never the pieces."""

from __future__ import annotations

from sqlalchemy.orm import Session

from issuer.network import feed, fleet, routes
from issuer.network.gtfs import Feed
from issuer.platform import audit
from issuer.platform.models import Company, Route, Vehicle


def add_route(session: Session, actor, code: str, name: str, *, now: float) -> Route:
    with audit.action(session, actor, "route.add", now=now) as entry:
        added = routes.add(session, code, name, now=now)
        entry.target = added.code
    return added


def add_company(session: Session, actor, code: str, name: str, *, now: float) -> Company:
    with audit.action(session, actor, "company.add", now=now) as entry:
        added = fleet.add_company(session, code, name, now=now)
        entry.target = added.code
    return added


def add_vehicle(session: Session, actor, code: str, company: str, *, now: float) -> Vehicle:
    with audit.action(session, actor, "vehicle.add", now=now) as entry:
        added = fleet.add_vehicle(session, code, company, now=now)
        entry.target, entry.reason = added.code, f"company {added.company_code}"
    return added


def import_feed(session: Session, actor, read: Feed, *, source: str, now: float) -> dict:
    """Apply a GTFS feed; the audit entry says how many routes were added, renamed and
    retired."""
    with audit.action(session, actor, "network.import", now=now, target=source) as entry:
        summary = feed.apply(session, read, now=now)
        changes = summary["routes"]
        entry.reason = (f"{len(read.routes)} routes ({len(changes['added'])} added, "
                        f"{len(changes['renamed'])} renamed, {len(changes['retired'])} "
                        f"retired), {len(read.stops)} stops")
    return summary
