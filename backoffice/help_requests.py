"""Riders' help requests: a question, or a problem with one of her trips, that waits in the
clerks' queue (the console's help page) until a clerk answers; the rider reads the answer on
her trips page. The services check and change; the pages commit, with the audit entry."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Trip
from issuer.platform.errors import Conflict, Invalid, NotFound
from issuer.platform.models import HelpRequest, Pass
from shared.i18n import N_

OPEN, ANSWERED = "open", "answered"
MAX_TEXT = 1000  # the column's size: a message or a reply longer than this is refused whole
QUEUE = 200  # open requests shown at once, oldest first


def _text(value, empty: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(empty)
    if len(text) > MAX_TEXT:
        raise Invalid(N_("The text is too long: at most %(most)s characters."), most=MAX_TEXT)
    return text


def ask(session: Session, account_id: str, message, *, trip_id: str | None,
        now: float) -> HelpRequest:
    """A new open request; ``trip_id`` must name a trip made with one of this rider's passes."""
    text = _text(message, N_("Write what happened, or what you need."))
    pass_id = None
    if trip_id:
        pass_id = _own_trip_pass(session, account_id, trip_id)
    request = HelpRequest(account_id=account_id, trip_id=trip_id or None, pass_id=pass_id,
                          message=text, status=OPEN, created_at=int(now))
    session.add(request)
    session.flush()
    return request


def _own_trip_pass(session: Session, account_id: str, trip_id) -> str:
    """The pass of the rider's trip ``trip_id``; NotFound for any other trip, hers or not
    (another rider's trips are not hers to know of)."""
    if not isinstance(trip_id, str) or len(trip_id) > 32:
        raise NotFound(N_("None of your trips has this number."))
    pass_id = session.scalar(
        sa.select(Trip.pass_id).join(Pass, Pass.id == Trip.pass_id)
        .where(Trip.id == trip_id, Pass.account_id == account_id).limit(1))
    if pass_id is None:
        raise NotFound(N_("None of your trips has this number."))
    return pass_id


def answer(session: Session, request_id, reply, *, clerk: str, now: float) -> HelpRequest:
    """The clerk's reply; the request leaves the queue. Answered once: a second clerk
    pressing at the same moment is told it is already answered."""
    text = _text(reply, N_("Write the reply the rider will read."))
    request = session.get(HelpRequest, request_id) if isinstance(request_id, int) else None
    if request is None:
        raise NotFound(N_("There is no help request %(id)s."), id=request_id)
    done = session.execute(
        sa.update(HelpRequest).where(HelpRequest.id == request.id, HelpRequest.status == OPEN)
        .values(status=ANSWERED, reply=text, answered_by=clerk[:100], answered_at=int(now)))
    if done.rowcount != 1:
        raise Conflict(N_("Help request %(id)s is already answered."), id=request.id)
    session.refresh(request)
    return request


def of_account(session: Session, account_id: str, limit: int = 50) -> list[HelpRequest]:
    return list(session.scalars(sa.select(HelpRequest).where(HelpRequest.account_id == account_id)
                                .order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc())
                                .limit(limit)))


def open_queue(session: Session) -> list[HelpRequest]:
    return list(session.scalars(sa.select(HelpRequest).where(HelpRequest.status == OPEN)
                                .order_by(HelpRequest.created_at, HelpRequest.id).limit(QUEUE)))
