"""Daily reconciliation per payment provider: for one Hanoi day, the orders paid and their
sum, the notifications received (and how many failed their signature), the money held and
refunded; then every mismatch a person must look at, one line each.

A mismatch is: a payment held (what and why), a notification whose signature failed, a
notification recorded but never settled (the process stopped between the two: its
payment, if any, is found again by ``querydr`` or the bank's next delivery), and an order
paid online with no payment behind it.

A line's item and detail are English (the CSV, for machines and auditors); a mismatch's
item and the details are :class:`~issuer.sales.reasons.Reason`, which the console's page
says in its reader's language.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.errors import Invalid
from shared.i18n import N_
from issuer.platform.models import Order, Payment, PaymentNotification
from issuer.sales import orders, payments, reasons, settlement
from issuer.sales.reasons import Reason
from shared import clock

COLUMNS = ("kind", "provider", "item", "count", "amount_vnd", "detail")


def day_bounds(day: str) -> tuple[int, int]:
    """Unix seconds of 00:00 Hanoi time on ``day`` (YYYY-MM-DD) and on the next day."""
    try:
        date = dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        raise Invalid(N_("the date must look like YYYY-MM-DD, got %(got)s"),
                      got=repr(day)) from None
    start = dt.datetime(date.year, date.month, date.day, tzinfo=clock.HANOI)
    return int(start.timestamp()), int((start + dt.timedelta(days=1)).timestamp())


def rows(session: Session, day: str) -> list[dict]:
    start, end = day_bounds(day)
    out = []
    for provider in payments.PROVIDERS:
        out += _summary(session, provider, start, end)
    out += _mismatches(session, start, end)
    return out


def _row(kind: str, provider: str, item: str, count: int = 0, amount: int = 0,
         detail: str = "") -> dict:
    return {"kind": kind, "provider": provider, "item": item, "count": count,
            "amount_vnd": amount, "detail": detail}


def _summary(session: Session, provider: str, start: int, end: int) -> list[dict]:
    paid = session.execute(sa.select(sa.func.count(), sa.func.coalesce(
        sa.func.sum(Order.price_vnd), 0)).where(
        Order.provider == provider, Order.paid_at >= start, Order.paid_at < end)).one()
    refunded = session.execute(sa.select(sa.func.count(), sa.func.coalesce(
        sa.func.sum(sa.func.coalesce(Order.refund_vnd, Order.price_vnd)), 0)).where(
        Order.provider == provider, Order.refunded_at >= start,
        Order.refunded_at < end)).one()
    notes = session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(
            sa.case((PaymentNotification.signature_ok.is_(False), 1), else_=0)), 0))
        .where(PaymentNotification.provider == provider,
               PaymentNotification.received_at >= start,
               PaymentNotification.received_at < end)).one()
    held = session.execute(sa.select(sa.func.count(), sa.func.coalesce(
        sa.func.sum(Payment.amount_vnd), 0)).where(
        Payment.provider == provider, Payment.state == settlement.HELD,
        Payment.created_at >= start, Payment.created_at < end)).one()
    return [_row("summary", provider, "orders paid", paid[0], paid[1]),
            _row("summary", provider, "orders refunded", refunded[0], refunded[1]),
            _row("summary", provider, "notifications", notes[0], 0,
                 Reason("bad_signatures", count=notes[1])),
            _row("summary", provider, "held", held[0], held[1])]


def _mismatches(session: Session, start: int, end: int) -> list[dict]:
    out = []
    for p in session.scalars(sa.select(Payment).where(
            Payment.state == settlement.HELD, Payment.created_at >= start,
            Payment.created_at < end).order_by(Payment.id)):
        out.append(_row("mismatch", p.provider, Reason("payment_held", id=p.id), 1,
                        p.amount_vnd, Reason("held_detail", reference=p.reference,
                                             reason=reasons.read(p.reason, p.reason_args))))
    for n in session.scalars(sa.select(PaymentNotification).where(
            PaymentNotification.received_at >= start, PaymentNotification.received_at < end,
            sa.or_(PaymentNotification.signature_ok.is_(False),
                   PaymentNotification.outcome.is_(None))).order_by(PaymentNotification.id)):
        what = "notification_refused" if not n.signature_ok else "notification_unsettled"
        out.append(_row("mismatch", n.provider, Reason(what, id=n.id), 1, 0,
                        reasons.read(n.outcome, n.outcome_args) or ""))
    backed = sa.select(Payment.order_id).where(Payment.state.in_(
        (settlement.PAID, settlement.APPLIED, settlement.REFUNDING, settlement.REFUNDED)))
    for o in session.scalars(sa.select(Order).where(
            Order.provider != payments.DEFAULT, Order.paid_at >= start, Order.paid_at < end,
            Order.status.in_((orders.PAID, orders.REFUNDED)), Order.id.not_in(backed))):
        out.append(_row("mismatch", o.provider, Reason("paid_without_payment", id=o.id), 1,
                        o.price_vnd, o.payment_ref or ""))
    return out


def as_csv(found: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(found)
    return out.getvalue()
