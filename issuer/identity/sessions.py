"""Signed-in browsers, kept in the database.

The cookie holds a random id; the row is keyed by its hash. Signing out ends the row, so a
cookie copied before and replayed after is worth nothing, and disabling an operator ends
their sessions at once (the row is checked on every request).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform import ids
from issuer.platform.models import WebSession

OPERATOR_LIFETIME = 10 * 3600  # a shift, with its breaks
RIDER_LIFETIME = 30 * 24 * 3600  # a rider signs in on the phone about once a month


def start(session: Session, *, now: float, operator_id: int | None = None,
          account_id: str | None = None) -> str:
    """A new session for one operator or one rider; returns the id for the cookie."""
    if (operator_id is None) == (account_id is None):
        raise ValueError("a web session belongs to one operator or one rider")
    sid = ids.new_token()
    lifetime = OPERATOR_LIFETIME if operator_id is not None else RIDER_LIFETIME
    session.add(WebSession(id_hash=ids.token_hash(sid), operator_id=operator_id,
                           account_id=account_id, created_at=int(now),
                           expires_at=int(now) + lifetime))
    session.commit()
    return sid


def lookup(session: Session, sid: str, *, now: float) -> WebSession | None:
    """The live session with this id, or None when unknown, ended or expired."""
    if not isinstance(sid, str) or not sid:
        return None
    return session.scalar(sa.select(WebSession).where(
        WebSession.id_hash == ids.token_hash(sid), WebSession.ended_at.is_(None),
        WebSession.expires_at > int(now)))


def end(session: Session, sid: str, *, now: float) -> bool:
    """End a session; False if it was not live."""
    if not isinstance(sid, str) or not sid:
        return False
    result = session.execute(sa.update(WebSession)
                             .where(WebSession.id_hash == ids.token_hash(sid),
                                    WebSession.ended_at.is_(None))
                             .values(ended_at=int(now)))
    session.commit()
    return result.rowcount > 0
