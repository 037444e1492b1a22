"""The audit log: every operator action, with who, what, when, why and on what.

Services stay unaware of who calls them, and do not commit what an operator asks of them:
the HTTP views, pages and commands that act for an operator run the change inside
:func:`action`, which commits it together with its audit entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.errors import Invalid, Unsaved
from shared.i18n import N_
from issuer.platform.models import AuditEntry

MAX_ENTRIES = 500  # one page of the log; older entries are reached with ``before``


@contextmanager
def action(session: Session, actor, name: str, *, now: float, target: str | None = None,
           reason: str | None = None) -> Iterator[AuditEntry]:
    """One operator action, one unit of work: what the block changes in ``session`` and the
    action's audit entry are committed in one transaction, or neither is.

    The block may set ``entry.target`` and ``entry.reason`` once the change names them (the id
    of a new pass). An error in the block rolls everything back; the database failing is
    :class:`~issuer.platform.errors.Unsaved`, which says whether the action stands. What validators
    read (the denylist, the trust list) is published by the caller after the block: the
    publication is rebuilt whole from the database, so repeating it is harmless.

    ``actor`` is an operator's name, or anything with an ``actor`` attribute naming one
    (the :class:`issuer.web.auth.Caller` of a request).
    """
    who = getattr(actor, "actor", actor)
    if not isinstance(who, str) or not who:
        raise TypeError("an audit entry needs the name of who acted")
    entry = AuditEntry(at=int(now), actor=who[:100], action=name, target=target, reason=reason)
    try:
        yield entry
        entry.target = None if entry.target is None else str(entry.target)[:200]
        entry.reason = None if entry.reason is None else entry.reason[:500]
        session.add(entry)
        session.flush()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        _roll_back(session)
        raise Unsaved(saved=False) from exc
    except BaseException:
        _roll_back(session)
        raise
    try:
        session.commit()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        _roll_back(session)
        raise Unsaved(saved=None) from exc


def event(session: Session, actor, name: str, *, now: float, target: str | None = None,
          reason: str | None = None) -> None:
    """An entry for something that changed nothing else here (a sign-in), committed alone."""
    with action(session, actor, name, now=now, target=target, reason=reason):
        pass


def _roll_back(session: Session) -> None:
    """Roll back; on a connection the database has dropped there is nothing to undo."""
    try:
        session.rollback()
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        pass


def entries(session: Session, *, actor: str | None = None, target: str | None = None,
            action: str | None = None, before: int | None = None,
            limit: int = MAX_ENTRIES) -> list[AuditEntry]:
    """The newest entries first, optionally only one actor's, target's or action's."""
    if not 1 <= limit <= MAX_ENTRIES:
        raise Invalid(N_("limit must be 1 to %(most)s"), most=MAX_ENTRIES)
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
