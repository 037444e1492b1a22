"""Refunds a rider asks for online, and the operator's policy that sets their amount.

The policy (docs/payments.md, "Refunds"):

- Asked before the pass's month starts (00:00 Hanoi time on the 1st): the whole price.
- Asked during the month: the price times the whole days left after the day it is asked,
  divided by the month's days, rounded down to the dong. Nothing else is taken off. A pass
  refunded on the 10th of a 30-day month gives back 20/30 of the price.
- Nothing left (the month's last day, or the month over): no refund.

The money goes back the way it came: a card payment through the gateway's ``refund``
command, at once; a bank transfer is owed, listed for a clerk at ``/console/payments``, who
makes the transfer and records it. Cash is refunded at a counter. In every case the pass is
revoked and the order marked refunded in the same unit of work, and the denylist published
after it (:func:`issuer.sales.actions.rider_refund`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.errors import Conflict, Invalid, Money, Word
from shared.i18n import N_
from issuer.platform.models import Order, Payment
from issuer.sales import orders, payments, reasons, settlement
from issuer.sales.reasons import Reason
from shared import clock

DAY = 24 * 3600


def quote(order: Order, now: float) -> int:
    """What the policy gives back for ``order`` asked at ``now``, in dong."""
    start, end = clock.month_bounds(*clock.parse_month(order.month))
    if now < start:
        return order.price_vnd
    days_in_month = (end - start) // DAY
    days_left = max(0, int(end - now) // DAY)  # whole days after today
    return order.price_vnd * days_left // days_in_month


def paying_payment(session: Session, order: Order) -> Payment | None:
    """The online payment that paid ``order`` (None: paid at a counter)."""
    return session.scalar(sa.select(Payment).where(
        Payment.order_id == order.id,
        Payment.state.in_((settlement.PAID, settlement.APPLIED))).limit(1))


def refund(session: Session, order_id: str, account_id: str, reason: str, *, now: float,
           refund_by_gateway) -> Order:
    """The rider's refund: the amount by the policy, the pass revoked, the order refunded,
    the money sent back or owed. ``refund_by_gateway(payment, amount)`` calls the gateway
    (raising if it refuses: then nothing here changes). The caller commits, with its audit
    entry, and publishes the denylist after."""
    order = orders.get(session, order_id)
    orders.check_owner(order, account_id)
    if order.status != orders.PAID:
        raise Conflict(N_("order %(id)s is %(status)s: only a paid order is refunded"),
                       id=order.id, status=Word(order.status, "order"))
    amount = quote(order, now)
    if amount <= 0:
        raise Invalid(N_("the month of order %(id)s is over or in its last day: "
                         "nothing is left to refund"), id=order.id)
    payment = paying_payment(session, order)
    if payment is None:
        raise Conflict(N_("order %(id)s was paid in cash: it is refunded at a counter"),
                       id=order.id)
    refunded = orders.refund(session, order.id, reason, refunded_by=f"rider:{account_id}",
                             now=now)
    session.execute(sa.update(Order).where(Order.id == order.id).values(refund_vnd=amount)
                    .execution_options(synchronize_session=False))
    if payment.provider == payments.GATEWAY:
        answer = refund_by_gateway(payment, amount)
        state, note = settlement.REFUNDED, Reason(
            "refunded_by_gateway", amount=Money(amount), txn=answer.get("vnp_TransactionNo"))
    else:
        state, note = settlement.REFUNDING, Reason("refund_owed", amount=Money(amount))
    session.execute(sa.update(Payment).where(Payment.id == payment.id)
                    .values(state=state, reason=note, reason_args=note.args(),
                            settled_at=int(now))
                    .execution_options(synchronize_session=False))
    session.refresh(refunded)
    return refunded


def owed(session: Session, limit: int = 200) -> list[Payment]:
    """Refunds owed by bank transfer, oldest first."""
    return list(session.scalars(sa.select(Payment).where(Payment.state == settlement.REFUNDING)
                                .order_by(Payment.settled_at, Payment.id).limit(limit)))


def record_transfer(session: Session, payment_id: int, note: str, *, decided_by: str,
                    now: float) -> Payment:
    """A clerk made the refund's bank transfer: ``note`` says which (the bank's reference).
    The caller commits, with its audit entry."""
    payment = settlement.get(session, payment_id)
    note = note.strip() if isinstance(note, str) else ""
    if not 0 < len(note) <= 200:
        raise Invalid(N_("say which transfer gave the money back (its bank reference): "
                         "1 to 200 characters"))
    # The owed refund's own reason kept inside (its sentence alone in a row from before
    # the codes).
    done = Reason("refund_transferred", note=note,
                  owed=reasons.read(payment.reason, payment.reason_args) or "")
    moved = session.execute(sa.update(Payment).where(Payment.id == payment.id,
                                                     Payment.state == settlement.REFUNDING)
                            .values(state=settlement.REFUNDED, decided_by=decided_by,
                                    decided_at=int(now), reason=done[:500],
                                    reason_args=done.args())
                            .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(N_("payment %(id)s is %(state)s: no transfer is owed"), id=payment.id,
                       state=Word(payment.state, "payment"))
    session.refresh(payment)
    return payment
