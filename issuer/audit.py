"""The audit log: every operator action, with who, what, when, why and on what.

Services stay unaware of who calls them; the HTTP views, pages and commands that act for an
operator call :func:`record` once the action has succeeded.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.errors import Invalid
from issuer.models import AuditEntry

MAX_ENTRIES = 500  # one page of the log; older entries are reached with ``before``


def record(session: Session, actor, action: str, target: str | None, reason: str | None = None,
           *, now: float) -> AuditEntry:
    """Write one entry and commit it (with anything else pending in ``session``).

    ``actor`` is an operator's name, or anything with an ``actor`` attribute naming one
    (the :class:`issuer.auth.Caller` of a request).
    """
    name = getattr(actor, "actor", actor)
    if not isinstance(name, str) or not name:
        raise TypeError("an audit entry needs the name of who acted")
    entry = AuditEntry(at=int(now), actor=name[:100], action=action,
                       target=None if target is None else str(target)[:200],
                       reason=None if reason is None else reason[:500])
    session.add(entry)
    session.commit()
    return entry


def entries(session: Session, *, actor: str | None = None, target: str | None = None,
            action: str | None = None, before: int | None = None,
            limit: int = MAX_ENTRIES) -> list[AuditEntry]:
    """The newest entries first, optionally only one actor's, target's or action's."""
    if not 1 <= limit <= MAX_ENTRIES:
        raise Invalid(f"limit must be 1 to {MAX_ENTRIES}")
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query))


def as_dict(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": entry.at, "actor": entry.actor, "action": entry.action,
            "target": entry.target, "reason": entry.reason}
