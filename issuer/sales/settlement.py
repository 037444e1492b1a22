"""Settlement: money that a gateway or a bank says arrived becomes a paid order and its pass,
exactly once, whichever channel told us (the gateway's IPN, the rider's return checked with
``querydr``, a bank's webhook) and however often.

Every channel does the same two steps: :func:`record` writes the notification as received,
with its signature's verdict, and commits it before anything is answered; then, for a
notification whose signature holds, :func:`settle` matches it to its order by reference and
amount to the dong and, in one transaction, marks the order paid, issues the pass and writes
the payment and an audit entry. Two notifications at once pay once: the order's row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL, the database's write lock on SQLite), the order moves
from pending by a conditional UPDATE, and a provider's transaction id is unique.

Money that does not match (short or over, an expired or cancelled order, an order already
paid, a reference that names no order) activates nothing: its payment is ``held`` for a clerk
to apply or refund (:mod:`issuer.sales.actions`). Nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes import next_month, passes
from issuer.platform import audit, metrics
from issuer.platform.errors import Conflict, Invalid, IssuerError, Money, NotFound, Word
from shared.i18n import N_
from issuer.platform.models import Order, Payment, PaymentNotification
from issuer.sales import orders, reasons
from issuer.sales.reasons import Reason, args_of

STARTED = "started"  # a gateway payment begun, its outcome not known yet
PAID = "paid"  # this payment paid its order
HELD = "held"  # money arrived that paid nothing: a clerk decides
FAILED = "failed"  # the gateway says the payer declined or gave up: no money moved
APPLIED = "applied"  # a held payment a clerk applied to an order
REFUNDING = "refunding"  # a refund owed by bank transfer: a clerk makes it and records it
REFUNDED = "refunded"  # given back (a held payment, or a refund the rider asked for)
STATES = (STARTED, PAID, HELD, FAILED, APPLIED, REFUNDING, REFUNDED)

# What a settlement came to; the channels answer from it (a gateway's response codes).
SETTLED = "paid"
DUPLICATE = "duplicate"  # this transaction was settled before: nothing more happens
NOT_FOUND = "not_found"  # the reference names no order: held
WRONG_AMOUNT = "wrong_amount"  # not the order's price to the dong: held
NOT_PAYABLE = "not_payable"  # the order is paid, expired, cancelled or refunded: held
DECLINED = "declined"  # the gateway reports no money moved

MAX_BODY = 16 * 1024  # characters of a notification kept: the real ones are a few hundred


@dataclass(frozen=True)
class Notice:
    """A notification whose signature was checked: money of ``amount_vnd`` moved under the
    provider's transaction ``provider_txn``, quoting ``reference``, which names ``order_id``
    (None when it names no order)."""

    provider: str
    reference: str
    order_id: str | None
    amount_vnd: int
    provider_txn: str | None  # None only for a declined payment: no money moved
    succeeded: bool = True  # False: the gateway says the payment was declined


@dataclass(frozen=True)
class Outcome:
    result: str  # one of SETTLED, DUPLICATE, NOT_FOUND, WRONG_AMOUNT, NOT_PAYABLE, DECLINED
    payment_id: int | None
    order_id: str | None
    detail: Reason


def record(session: Session, provider: str, channel: str, body: str, *, signature_ok: bool,
           provider_txn: str | None, now: float) -> int:
    """Write a notification as received and commit it: it is kept before it is answered.
    A database error propagates: the channel answers so that the sender tries again."""
    note = PaymentNotification(provider=provider, channel=channel, received_at=int(now),
                               body=body[:MAX_BODY], signature_ok=signature_ok,
                               provider_txn=None if provider_txn is None else provider_txn[:64])
    session.add(note)
    session.commit()
    return note.id


def note_outcome(session: Session, notification_id: int, outcome: Reason,
                 payment_id: int | None = None) -> None:
    """The outcome of a notification that needed no settlement (a bad signature); commits."""
    session.execute(sa.update(PaymentNotification)
                    .where(PaymentNotification.id == notification_id)
                    .values(**_outcome(outcome), payment_id=payment_id))
    session.commit()


def _outcome(outcome: Reason) -> dict:
    """A notification's outcome columns: the English sentence and its code and values."""
    return {"outcome": outcome[:200], "outcome_args": args_of(outcome)}


def settle(session: Session, notice: Notice, *, notification_id: int | None,
           now: float) -> Outcome:
    """Settle a verified notification in one transaction (see the module's docstring)."""
    try:
        try:
            outcome = _settle(session, notice, notification_id, now)
        except IssuerError as exc:
            # The money matched but the pass cannot be issued (the rider's account can no
            # longer hold one, the month is over): held for a clerk, not lost, not retried.
            outcome = _settle(session, notice, notification_id, now,
                              hold=Reason("pass_not_issued", error=exc))
    except sa.exc.IntegrityError:
        # The same transaction settled by another notification at the same moment: its
        # payment row won the unique index; this one is the duplicate.
        session.rollback()
        outcome = _duplicate(session, notice)
        if notification_id is not None:
            note_outcome(session, notification_id, _describe(outcome), outcome.payment_id)
    if outcome.result in (SETTLED, DUPLICATE, DECLINED):
        metrics.payment(notice.provider, "confirmed" if outcome.result == SETTLED else
                        "refused" if outcome.result == DECLINED else "duplicate")
    else:
        metrics.payment(notice.provider, "held")
    return outcome


def _settle(session: Session, notice: Notice, notification_id: int | None,
            now: float, hold: str | None = None) -> Outcome:
    actor = f"payments:{notice.provider}"
    with audit.action(session, actor, "payment.settle", now=now,
                      target=notice.order_id or notice.reference) as entry:
        order = _locked_order(session, notice.order_id)
        # Read after the lock: a notification that waited for it sees what the first wrote.
        # populate_existing: the session may hold the attempt as it read it before the lock
        # (the rider's return reads it, then asks the gateway), and that copy is stale.
        done = None if notice.provider_txn is None else session.scalar(
            sa.select(Payment).where(Payment.provider == notice.provider,
                                     Payment.provider_txn == notice.provider_txn)
            .execution_options(populate_existing=True))
        if done is not None and done.state != STARTED:
            outcome = _duplicate_of(done, notice)
        else:
            payment = done or _claim_attempt(session, notice) or Payment(
                provider=notice.provider, reference=notice.reference[:100],
                state=HELD, created_at=int(now))  # until decided below
            payment.order_id = order.id if order is not None else None
            payment.amount_vnd = notice.amount_vnd
            payment.provider_txn = notice.provider_txn or payment.provider_txn
            session.add(payment)
            outcome = _decide(session, notice, order, payment, now, hold)
            session.flush()  # a duplicate transaction id fails here, inside the unit
            outcome = Outcome(outcome.result, payment.id, outcome.order_id, outcome.detail)
        entry.reason = _describe(outcome)[:500]
        if notification_id is not None:
            session.execute(sa.update(PaymentNotification)
                            .where(PaymentNotification.id == notification_id)
                            .values(**_outcome(_describe(outcome)),
                                    payment_id=outcome.payment_id))
    return outcome


def _locked_order(session: Session, order_id: str | None) -> Order | None:
    """The order, locked for this transaction. The lock is taken by a write that changes
    nothing: a row lock on PostgreSQL, and on SQLite the database's write lock, which a
    ``SELECT … FOR UPDATE`` would not take (SQLite ignores it), so two settlements of one
    order run one after the other on both."""
    if order_id is None:
        return None
    session.execute(sa.update(Order).where(Order.id == order_id).values(status=Order.status)
                    .execution_options(synchronize_session=False))
    return session.scalar(sa.select(Order).where(Order.id == order_id)
                          .execution_options(populate_existing=True))


def _claim_attempt(session: Session, notice: Notice) -> Payment | None:
    """The gateway attempt this notification closes (begun when the rider pressed Pay),
    claimed by a conditional UPDATE: a notification that lost a race finds none."""
    attempt = session.scalar(sa.select(Payment).where(
        Payment.provider == notice.provider, Payment.reference == notice.reference,
        Payment.state == STARTED).limit(1).execution_options(populate_existing=True))
    if attempt is None:
        return None
    claimed = session.execute(sa.update(Payment).where(Payment.id == attempt.id,
                                                       Payment.state == STARTED)
                              .values(state=HELD).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    session.refresh(attempt)
    return attempt


def _decide(session: Session, notice: Notice, order: Order | None, payment: Payment,
            now: float, hold: Reason | None = None) -> Outcome:
    order_id = order.id if order is not None else None
    if not notice.succeeded:
        reason = Reason("declined")
        payment.state, payment.reason, payment.reason_args = FAILED, reason, args_of(reason)
        return Outcome(DECLINED, None, order_id, reason)
    held = (NOT_PAYABLE, hold) if hold else _why_held(order, notice.amount_vnd, now)
    if held is None and not _pay(session, order, payment, now):
        held = (NOT_PAYABLE, Reason("order_taken", order=order.id))
    if held is not None:
        result, reason = held
        payment.state, payment.reason, payment.reason_args = HELD, reason, args_of(reason)
        if order is not None and order.status == orders.PENDING and orders.is_expired(order, now):
            orders.expire_one(session, order, now=now)
        return Outcome(result, None, order_id, reason)
    payment.state, payment.settled_at = PAID, int(now)
    return Outcome(SETTLED, None, order_id,
                   Reason("settled", order=order.id, pass_id=order.pass_id))


def _why_held(order: Order | None, amount_vnd: int, now: float) -> tuple[str, Reason] | None:
    if order is None:
        return NOT_FOUND, Reason("no_order")
    if amount_vnd != order.price_vnd:
        return WRONG_AMOUNT, Reason("wrong_amount", amount=Money(amount_vnd), order=order.id,
                                    price=Money(order.price_vnd))
    if order.status != orders.PENDING:
        return NOT_PAYABLE, Reason("order_not_pending", order=order.id,
                                   status=Word(order.status, "order"))
    if orders.is_expired(order, now):
        return NOT_PAYABLE, Reason("order_expired", order=order.id)
    return None


def _pay(session: Session, order: Order, payment: Payment, now: float) -> bool:
    """Move the order from pending to paid and issue its pass; False if it was not pending."""
    moved = session.execute(
        sa.update(Order).where(Order.id == order.id, Order.status == orders.PENDING)
        .values(status=orders.PAID, paid_at=int(now), provider=payment.provider,
                payment_ref=payment.provider_txn, handled_by=f"payments:{payment.provider}")
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        return False
    p = passes.issue(session, order.account_id, order.product, now=now,
                     route=order.route_code, month=order.month, category=order.category)
    next_month.follow_phone(session, p, now=now)
    session.execute(sa.update(Order).where(Order.id == order.id).values(pass_id=p.id)
                    .execution_options(synchronize_session=False))
    session.refresh(order)
    metrics.order_state(orders.PAID)
    return True


def _duplicate(session: Session, notice: Notice) -> Outcome:
    done = session.scalar(sa.select(Payment).where(
        Payment.provider == notice.provider, Payment.provider_txn == notice.provider_txn))
    if done is None:  # not a duplicate after all: a real constraint broken
        raise RuntimeError(f"settling transaction {notice.provider_txn} broke a constraint")
    return _duplicate_of(done, notice)


def _duplicate_of(done: Payment, notice: Notice) -> Outcome:
    return Outcome(DUPLICATE, done.id, done.order_id,
                   Reason("duplicate", txn=notice.provider_txn,
                          state=Word(done.state, "payment")))


def _describe(outcome: Outcome) -> Reason:
    return Reason("settlement", result=Word(outcome.result, "settlement"),
                  detail=outcome.detail)


# -- a clerk decides a held payment -------------------------------------------------------

def get(session: Session, payment_id) -> Payment:
    found = session.get(Payment, payment_id) if type(payment_id) is int else None
    if found is None:
        raise NotFound(N_("no payment %(id)s"), id=repr(payment_id))
    return found


def apply_held(session: Session, payment_id: int, order_id: str | None, *, decided_by: str,
               now: float) -> Payment:
    """A clerk applies held money to an order (its own, or the one ``order_id`` names when
    the reference named none): the order is paid and its pass issued even if it expired, as
    long as the money covers its price. The caller commits, with its audit entry."""
    payment = get(session, payment_id)
    if payment.state != HELD:
        raise Conflict(N_("payment %(id)s is %(state)s, not held"), id=payment.id,
                       state=Word(payment.state, "payment"))
    target = order_id or payment.order_id
    if target is None:
        raise Invalid(N_("payment %(id)s names no order: say which order it pays"), id=payment.id)
    order = _locked_order(session, target)
    if order is None:
        raise NotFound(N_("no order %(id)s"), id=repr(target))
    if payment.order_id not in (None, order.id):
        raise Conflict(N_("payment %(id)s is for order %(order)s"), id=payment.id,
                       order=payment.order_id)
    if payment.amount_vnd < order.price_vnd:
        raise Conflict(N_("%(amount)s VND does not cover order %(order)s's price, %(price)s VND: "
                          "refund it instead"), amount=payment.amount_vnd, order=order.id,
                       price=order.price_vnd)
    if order.status == orders.EXPIRED:  # the clerk's decision revives it
        session.execute(sa.update(Order).where(Order.id == order.id,
                                               Order.status == orders.EXPIRED)
                        .values(status=orders.PENDING, cancelled_at=None, expires_at=None)
                        .execution_options(synchronize_session=False))
    if not _pay(session, order, payment, now):
        raise Conflict(N_("order %(id)s is %(status)s: only a pending or expired order "
                          "takes a held payment"), id=order.id,
                       status=Word(order.status, "order"))
    _decided(session, payment, APPLIED, Reason("applied", order=order.id), decided_by, now)
    payment.order_id = order.id
    return payment


def refund_held(session: Session, payment_id: int, reason: str, *, decided_by: str,
                now: float) -> Payment:
    """A clerk records held money given back (by the gateway's refund, or a bank transfer
    the clerk made). The caller commits, with its audit entry."""
    payment = get(session, payment_id)
    if payment.state != HELD:
        raise Conflict(N_("payment %(id)s is %(state)s, not held"), id=payment.id,
                       state=Word(payment.state, "payment"))
    _decided(session, payment, REFUNDED, passes.check_reason(reason, N_("a refund")), decided_by,
             now)
    return payment


def _decided(session: Session, payment: Payment, state: str, reason: str, decided_by: str,
             now: float) -> None:
    """``reason`` is a :class:`Reason`, or the words a clerk typed (shown as typed)."""
    moved = session.execute(sa.update(Payment).where(Payment.id == payment.id,
                                                     Payment.state == HELD)
                            .values(state=state, reason=reason[:500],
                                    reason_args=args_of(reason), decided_by=decided_by,
                                    decided_at=int(now), settled_at=int(now))
                            .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(N_("payment %(id)s was decided meanwhile"), id=payment.id)
    session.refresh(payment)


def payments_of(session: Session, order_id: str) -> list[Payment]:
    return list(session.scalars(sa.select(Payment).where(Payment.order_id == order_id)
                                .order_by(Payment.id)))


def held(session: Session, limit: int = 200) -> list[Payment]:
    return list(session.scalars(sa.select(Payment).where(Payment.state == HELD)
                                .order_by(Payment.created_at, Payment.id).limit(limit)))


def as_dict(payment: Payment) -> dict:
    return {"id": payment.id, "provider": payment.provider, "reference": payment.reference,
            "order_id": payment.order_id, "amount_vnd": payment.amount_vnd,
            "provider_txn": payment.provider_txn, "state": payment.state,
            "reason": reasons.read(payment.reason, payment.reason_args),
            "created_at": payment.created_at,
            "settled_at": payment.settled_at, "decided_by": payment.decided_by,
            "decided_at": payment.decided_at}
