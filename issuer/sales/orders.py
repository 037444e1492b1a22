"""Orders for monthly passes: made by the rider, paid through a payment provider, cancelled
before payment or refunded after. The pass exists only once its order is paid.

Months are Hanoi's: the current month is on sale until it ends, the next one from
``SALES_OPEN_DAY`` of the current month.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.sales import applications, payments
from issuer.passes import catalogue, next_month, passes, revocation
from issuer.platform import ids, metrics
from issuer.platform.errors import Conflict, Forbidden, Invalid, NotFound, Word
from shared.i18n import N_
from issuer.platform.models import Account, Order, Pass
from shared import clock

PENDING = "pending"
PAID = "paid"
CANCELLED = "cancelled"
REFUNDED = "refunded"
EXPIRED = "expired"  # not paid in time (the setting ORDER_EXPIRY_MINUTES)
STATUSES = (PENDING, PAID, CANCELLED, REFUNDED, EXPIRED)
MONTHLY_PRODUCTS = ("single", "multi")

MAX_SEARCH = 200  # characters in a clerk's search for an order


def months_on_sale(now: float, open_day: int) -> list[str]:
    """The months a pass can be bought for at ``now``: this one, and the next from the
    opening day on."""
    year, month = clock.hanoi_month(now)
    out = [f"{year:04d}-{month:02d}"]
    if dt.datetime.fromtimestamp(now, clock.HANOI).day >= open_day:
        next_year, next_index = divmod(year * 12 + month, 12)  # month is 1-based
        out.append(f"{next_year:04d}-{next_index + 1:02d}")
    return out


def create(session: Session, account_id: str, product: str, month: str, *, now: float,
           open_day: int, route: str | None = None, category: str | None = None,
           provider: str = payments.DEFAULT, expires_in: int | None = None) -> Order:
    """A pending order. Everything that would stop the pass being issued is checked now.
    Unpaid ``expires_in`` seconds from now, it expires (None: never, as before)."""
    account = accounts.get(session, account_id)
    passes.check_may_hold(account)
    if product not in MONTHLY_PRODUCTS:
        raise Invalid(N_("an order is for a monthly pass: product must be one of "
                         "%(products)s, got %(got)s"), products=", ".join(MONTHLY_PRODUCTS),
                      got=repr(product))
    route_code = passes.check_route(session, product, route)
    on_sale = months_on_sale(now, open_day)
    if month not in on_sale:
        raise Invalid(N_("month must be one on sale now: %(months)s, got %(got)s"),
                      months=", ".join(on_sale), got=repr(month))
    if category is not None:
        catalogue.category(session, category, catalogue.REDUCED)
        start = clock.month_bounds(*clock.parse_month(month))[0]
        applications.check_eligible(session, account.id, category, at=start)
    price = catalogue.price(session, product, category)
    pay = payments.provider(provider)
    expire(session, now=now, account_id=account.id)  # a stale order blocks nothing
    _check_no_duplicate(session, account, product, route_code, month)
    order = Order(id=_free_id(session), account_id=account.id, product=product,
                  route_code=route_code, month=month, category=category, price_vnd=price,
                  provider=pay.name, status=PENDING, created_at=int(now),
                  expires_at=None if expires_in is None else int(now) + expires_in)
    session.add(order)
    session.commit()
    metrics.order_state(PENDING)
    return order


def _month_after(pass_: Pass) -> str:
    year, month = clock.hanoi_month(pass_.valid_until)  # the month its end falls in
    return f"{year:04d}-{month:02d}"


def renewable(session: Session, pass_: Pass, *, now: float, open_day: int) -> bool:
    """An active monthly pass whose next month is on sale and not yet ordered."""
    if pass_.product not in MONTHLY_PRODUCTS or pass_.status != passes.ACTIVE:
        return False
    if _month_after(pass_) not in months_on_sale(now, open_day):
        return False
    return session.scalar(_renewal_orders(pass_, (PENDING, PAID))) is None


def pending_renewal(session: Session, pass_: Pass, *, now: float) -> Order | None:
    """The order for the month after ``pass_`` (same product and route) waiting for payment
    and not lapsed, if the rider made one."""
    return session.scalar(_renewal_orders(pass_, (PENDING,)).where(
        sa.or_(Order.expires_at.is_(None), Order.expires_at > int(now))))


def _renewal_orders(pass_: Pass, statuses: tuple[str, ...]):
    return sa.select(Order).where(
        Order.account_id == pass_.account_id, Order.product == pass_.product,
        Order.month == _month_after(pass_), Order.status.in_(statuses),
        Order.route_code.is_(None) if pass_.route_code is None
        else Order.route_code == pass_.route_code).order_by(Order.created_at.desc())


def renew(session: Session, pass_: Pass, *, now: float, open_day: int,
          expires_in: int | None) -> Order:
    """An order for the month after ``pass_``, same product, route and fare category."""
    if pass_.product not in MONTHLY_PRODUCTS:
        raise Invalid(N_("only a monthly pass is renewed this way"))
    if pass_.status != passes.ACTIVE:
        raise Conflict(N_("pass %(id)s is %(status)s: buy a new one instead"), id=pass_.id,
                       status=Word(pass_.status, "pass"))
    return create(session, pass_.account_id, pass_.product, _month_after(pass_), now=now,
                  open_day=open_day, route=pass_.route_code, category=pass_.category,
                  expires_in=expires_in)


def _check_no_duplicate(session: Session, account: Account, product: str, route: str | None,
                        month: str) -> None:
    # A paid order whose pass was revoked (by mistake, a stolen phone...) no longer holds the
    # month: the rider may buy it again.
    same = session.scalar(sa.select(Order.id).outerjoin(Pass, Pass.id == Order.pass_id).where(
        Order.account_id == account.id, Order.product == product, Order.month == month,
        Order.route_code.is_(None) if route is None else Order.route_code == route,
        Order.status.in_((PENDING, PAID)),
        sa.or_(Pass.id.is_(None), Pass.status != passes.REVOKED)))
    if same is not None:
        raise Conflict(N_("order %(id)s is already for this pass and month"), id=same)


def get(session: Session, order_id: str) -> Order:
    order = session.get(Order, order_id) if isinstance(order_id, str) else None
    if order is None:
        raise NotFound(N_("no order %(id)s"), id=repr(order_id))
    return order


def check_owner(order: Order, account_id: str) -> None:
    if order.account_id != account_id:
        raise Forbidden(N_("this order belongs to another account"))


def _transition(session: Session, order: Order, frm: str, **values) -> None:
    """Move the order from status ``frm``, or Conflict if someone moved it first: a
    conditional UPDATE, so two clerks confirming at once pay it once, on every database."""
    result = session.execute(sa.update(Order).where(Order.id == order.id, Order.status == frm)
                             .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        session.refresh(order)
        raise Conflict(N_("order %(id)s is %(status)s, not %(expected)s"), id=order.id,
                       status=Word(order.status, "order"), expected=Word(frm, "order"))
    metrics.order_state(values["status"])


def pay(session: Session, order_id: str, *, amount_vnd: int, handled_by: str,
        now: float) -> Order:
    """Record the payment and issue the pass. The caller commits both, with its audit entry."""
    order = get(session, order_id)
    if order.status != PENDING:
        raise Conflict(N_("order %(id)s is %(status)s, not %(expected)s"), id=order.id,
                       status=Word(order.status, "order"), expected=Word(PENDING, "order"))
    try:
        reference = payments.provider(order.provider).confirm(order, amount_vnd=amount_vnd)
    except Invalid:
        metrics.payment(order.provider, "refused")
        raise
    metrics.payment(order.provider, "confirmed")
    p = passes.issue(session, order.account_id, order.product, now=now,
                        route=order.route_code, month=order.month)
    next_month.follow_phone(session, p, now=now)
    _transition(session, order, PENDING, status=PAID, paid_at=int(now), payment_ref=reference,
                handled_by=handled_by, pass_id=p.id)
    session.refresh(order)
    return order


def is_expired(order: Order, now: float) -> bool:
    """Past its time to be paid (whether or not its status says so yet)."""
    return order.expires_at is not None and order.expires_at <= now


def expire_one(session: Session, order: Order, *, now: float) -> bool:
    """Mark one pending order past its time expired; False if it was not pending."""
    moved = session.execute(sa.update(Order).where(Order.id == order.id,
                                                   Order.status == PENDING)
                            .values(status=EXPIRED, cancelled_at=int(now))
                            .execution_options(synchronize_session=False))
    if moved.rowcount == 1:
        metrics.order_state(EXPIRED)
        session.refresh(order)
    return moved.rowcount == 1


def expire(session: Session, *, now: float, account_id: str | None = None) -> int:
    """Every pending order past its time becomes expired (of one account, or all); the
    caller commits. Money that comes for one later is held, never activates it."""
    stmt = sa.update(Order).where(Order.status == PENDING, Order.expires_at.is_not(None),
                                  Order.expires_at <= int(now))
    if account_id is not None:
        stmt = stmt.where(Order.account_id == account_id)
    moved = session.execute(stmt.values(status=EXPIRED, cancelled_at=int(now))
                            .execution_options(synchronize_session=False)).rowcount
    for _ in range(moved):
        metrics.order_state(EXPIRED)
    return moved


def cancel(session: Session, order_id: str, *, now: float) -> Order:
    """Cancel a pending order; the caller commits."""
    order = get(session, order_id)
    if order.status != PENDING:
        if order.status == PAID:
            raise Conflict(N_("order %(id)s is %(status)s: only a pending order is cancelled; "
                              "a paid one is refunded"), id=order.id,
                           status=Word(order.status, "order"))
        raise Conflict(N_("order %(id)s is %(status)s: only a pending order is cancelled"),
                       id=order.id, status=Word(order.status, "order"))
    _transition(session, order, PENDING, status=CANCELLED, cancelled_at=int(now))
    session.refresh(order)
    return order


def refund(session: Session, order_id: str, reason: str, *, refunded_by: str,
           now: float) -> Order:
    """Give the money back and revoke the pass; the caller commits, then publishes the
    denylist."""
    reason = passes.check_reason(reason, N_("a refund"))
    order = get(session, order_id)
    if order.status != PAID:
        raise Conflict(N_("order %(id)s is %(status)s: only a paid order is refunded"),
                       id=order.id, status=Word(order.status, "order"))
    if passes.get(session, order.pass_id).status != passes.REVOKED:  # e.g. revoked for fraud
        passes.revoke(session, order.pass_id, f"refund: {reason}", now=now,
                      code=revocation.REFUND)
    _transition(session, order, PAID, status=REFUNDED, refunded_at=int(now),
                refunded_by=refunded_by, refund_reason=reason)
    metrics.payment(order.provider, "refunded")
    session.refresh(order)
    return order


def of_account(session: Session, account_id: str) -> list[Order]:
    return list(session.scalars(sa.select(Order).where(Order.account_id == account_id)
                                .order_by(Order.created_at.desc(), Order.id)))


def search(session: Session, *, status: str | None = None, query: str | None = None,
           limit: int = 50) -> list[Order]:
    """For the counter: by order number, account id, or part of the rider's name."""
    stmt = sa.select(Order).join(Account, Account.id == Order.account_id)
    if status is not None:
        if status not in STATUSES:
            raise Invalid(N_("status must be one of %(statuses)s"), statuses=", ".join(STATUSES))
        stmt = stmt.where(Order.status == status)
    if query:
        q = query.strip()
        if len(q) > MAX_SEARCH:
            raise Invalid(N_("a search is at most %(most)s characters"), most=MAX_SEARCH)
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(Order.id == q.upper(), Order.account_id == q.upper(),
                                 Account.full_name.ilike(like, escape="\\")))
    return list(session.scalars(stmt.order_by(Order.created_at.desc(), Order.id).limit(limit)))


def as_dict(session: Session, order: Order) -> dict:
    pay = payments.provider(order.provider)
    out = {"id": order.id, "account_id": order.account_id, "product": order.product,
           "route": order.route_code, "month": order.month, "category": order.category,
           "price_vnd": order.price_vnd, "provider": order.provider, "status": order.status,
           "created_at": order.created_at, "paid_at": order.paid_at,
           "payment_ref": order.payment_ref, "handled_by": order.handled_by,
           "cancelled_at": order.cancelled_at, "refunded_at": order.refunded_at,
           "refund_reason": order.refund_reason, "pass_id": order.pass_id,
           "expires_at": order.expires_at, "refund_vnd": order.refund_vnd}
    if order.status == PENDING:
        out["payment_instructions"] = pay.instructions(order)
    if order.status == REFUNDED:
        out["refund_instructions"] = pay.refund_instructions(order)
    return out


def _free_id(session: Session) -> str:
    while True:
        candidate = ids.new_id()
        if session.get(Order, candidate) is None:
            return candidate
