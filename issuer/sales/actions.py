"""What a clerk or an approver does to orders and applications, each as one unit of work:
the change and its audit entry in one transaction (:func:`issuer.platform.audit.action`),
then what validators must know published after commit. The command line, the JSON API and
the console call these functions, never the pieces."""

from __future__ import annotations

from sqlalchemy.orm import Session

from issuer.passes import publish
from issuer.passes.publish import Published
from issuer.platform import audit
from issuer.platform.models import Application, Order, Payment
from issuer.sales import applications, gateway, orders, payments, refunds, settlement
from issuer.sales.reasons import Reason


def take_payment(session: Session, actor, order_id: str, amount_vnd: int, *,
                 now: float) -> Order:
    """A clerk took the order's price in cash: the order is paid and its pass issued."""
    with audit.action(session, actor, "order.pay", now=now, target=order_id) as entry:
        paid = orders.pay(session, order_id, amount_vnd=amount_vnd,
                          handled_by=getattr(actor, "actor", actor), now=now)
        entry.reason = f"{paid.price_vnd} VND, receipt {paid.payment_ref}"
    return paid


def cancel(session: Session, actor, order_id: str, *, now: float) -> Order:
    """An operator cancels a pending order (a rider cancelling her own is not audited:
    :func:`issuer.sales.orders.cancel`)."""
    with audit.action(session, actor, "order.cancel", now=now, target=order_id):
        return orders.cancel(session, order_id, now=now)


def refund(session: Session, actor, order_id: str, reason: str, *, now: float,
           redis_url: str) -> tuple[Order, Published]:
    """The money given back and the order's pass revoked, in one unit; the denylist
    published after."""
    with audit.action(session, actor, "order.refund", now=now, target=order_id) as entry:
        refunded = orders.refund(session, order_id, reason,
                                 refunded_by=getattr(actor, "actor", actor), now=now)
        entry.reason = refunded.refund_reason
    return refunded, publish.publish(session, redis_url, now=now)


def decide_application(session: Session, actor, application_id: str, *, approve: bool,
                       reason: str | None, now: float) -> Application:
    name = "application.approve" if approve else "application.reject"
    with audit.action(session, actor, name, now=now, target=application_id) as entry:
        decided = applications.decide(session, application_id, approve=approve, reason=reason,
                                      decided_by=getattr(actor, "actor", actor), now=now)
        entry.reason = decided.decision_reason
    return decided


def apply_held_payment(session: Session, actor, payment_id: int, order_id: str | None, *,
                       now: float) -> Payment:
    """Held money applied to an order by a clerk: the order paid and its pass issued."""
    with audit.action(session, actor, "payment.apply", now=now,
                      target=str(payment_id)) as entry:
        applied = settlement.apply_held(session, payment_id, order_id,
                                        decided_by=getattr(actor, "actor", actor), now=now)
        entry.reason = applied.reason
    return applied


def refund_held_payment(session: Session, actor, payment_id: int, reason: str, *,
                        now: float, config, ip: str = "127.0.0.1") -> Payment:
    """Held money given back: through the gateway for a card payment (its refund command),
    else recorded as the bank transfer the clerk made. If the gateway refuses, nothing
    changes here."""
    with audit.action(session, actor, "payment.refund", now=now,
                      target=str(payment_id)) as entry:
        who = getattr(actor, "actor", actor)
        held = settlement.get(session, payment_id)
        refunded = settlement.refund_held(session, payment_id, reason, decided_by=who,
                                          now=now)
        if held.provider == payments.GATEWAY:
            answer = gateway.refund(gateway.Gateway.from_config(config), held,
                                    held.amount_vnd, by=who, ip=ip, now=now)
            said = Reason("held_refunded_by_gateway", note=refunded.reason,
                          txn=answer.get("vnp_TransactionNo"))
            refunded.reason, refunded.reason_args = said[:500], said.args()
        entry.reason = refunded.reason
    return refunded


def rider_refund(session: Session, account_id: str, order_id: str, reason: str, *,
                 now: float, redis_url: str, config,
                 ip: str = "127.0.0.1") -> tuple[Order, Published]:
    """A rider's own refund (policy in :mod:`issuer.sales.refunds`): the money sent back
    or owed, the pass revoked, the order refunded and the audit entry in one transaction;
    the denylist published after."""
    actor = f"rider:{account_id}"

    def by_gateway(payment: Payment, amount: int) -> dict:
        return gateway.refund(gateway.Gateway.from_config(config), payment, amount, by=actor,
                              ip=ip, now=now)

    with audit.action(session, actor, "order.refund", now=now, target=order_id) as entry:
        refunded = refunds.refund(session, order_id, account_id, reason, now=now,
                                  refund_by_gateway=by_gateway)
        entry.reason = f"{refunded.refund_vnd} VND: {refunded.refund_reason}"
    return refunded, publish.publish(session, redis_url, now=now)


def record_refund_transfer(session: Session, actor, payment_id: int, note: str, *,
                           now: float) -> Payment:
    """A clerk made a refund's bank transfer and records it."""
    with audit.action(session, actor, "payment.refund_transfer", now=now,
                      target=str(payment_id)) as entry:
        done = refunds.record_transfer(session, payment_id, note,
                                       decided_by=getattr(actor, "actor", actor), now=now)
        entry.reason = done.reason
    return done
