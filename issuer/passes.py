"""Passes: issuing them for a calendar month in Hanoi time, revoking them, the denylist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer import accounts, ids, routes
from issuer.errors import Conflict, Invalid, NotFound
from issuer.models import DeviceBinding, Pass, Product
from shared import clock
from shared.denylist import DenyEntry, Denylist

ACTIVE = "active"
REVOKED = "revoked"
FREE_PASS_MONTHS = 12


@dataclass(frozen=True)
class FreeCategory:
    """A group that rides free. Where age decides it, the date of birth proves it; the other
    groups are approved by an operator, which issuing the pass is."""

    name_vi: str
    name_en: str
    min_age: int | None = None
    max_age: int | None = None


FREE_CATEGORIES = {
    "elderly": FreeCategory("Người cao tuổi", "Elderly people", min_age=60),
    "disability": FreeCategory("Người khuyết tật", "People with disabilities"),
    "merit": FreeCategory("Người có công với cách mạng", "People with merit"),
    "child": FreeCategory("Trẻ em dưới 6 tuổi", "Children under 6", max_age=5),
}


def issue(session: Session, account_id: str, product: str, *, now: float,
          route: str | None = None, month: str | None = None,
          category: str | None = None) -> Pass:
    """Issue a pass for ``month`` (YYYY-MM, default the current month in Hanoi).

    Monthly passes run for that calendar month; a free pass for twelve months from its
    start. Everything is checked before anything is written.
    """
    account = accounts.get(session, account_id)
    if not isinstance(product, str) or session.get(Product, product) is None:
        names = ", ".join(session.scalars(sa.select(Product.code).order_by(Product.code)))
        raise Invalid(f"product must be one of {names}, got {product!r}")
    route_code = _check_route(session, product, route)
    _check_category_given(product, category)
    year, mon = _month(month, now)
    months = FREE_PASS_MONTHS if product == "free" else 1
    valid_from = clock.month_bounds(year, mon)[0]
    valid_until = clock.month_bounds(*_add_months(year, mon, months - 1))[1]
    if valid_until <= now:
        raise Invalid(f"month {year:04d}-{mon:02d} is over: a pass must still be valid")
    if product == "free":
        _check_eligible(account, category, valid_from)
    p = Pass(id=_free_id(session), account_id=account.id, product=product, route_code=route_code,
             category=category, valid_from=valid_from, valid_until=valid_until, status=ACTIVE,
             credentials_until=0, created_at=int(now))
    session.add(p)
    session.commit()
    return p


def _check_route(session: Session, product: str, route: str | None) -> str | None:
    if product != "single":
        if route is not None:
            raise Invalid(f"a {product} pass covers no single route: leave the route out")
        return None
    if route is None:
        raise Invalid("a single-route pass needs a route")
    return routes.get(session, route).code


def _check_category_given(product: str, category: str | None) -> None:
    if product != "free":
        if category is not None:
            raise Invalid("only a free pass has a category")
        return
    if category not in FREE_CATEGORIES:
        raise Invalid(f"a free pass needs a category: one of {', '.join(FREE_CATEGORIES)}")


def _check_eligible(account, category: str, valid_from: int) -> None:
    rule = FREE_CATEGORIES[category]
    age = accounts.age_on(account, dt.datetime.fromtimestamp(valid_from, clock.HANOI).date())
    if rule.min_age is not None and age < rule.min_age:
        raise Invalid(f"category {category} is for ages {rule.min_age} and over; "
                      f"the account holder is {age}")
    if rule.max_age is not None and age > rule.max_age:
        raise Invalid(f"category {category} is for ages up to {rule.max_age}; "
                      f"the account holder is {age}")


def _month(month: str | None, now: float) -> tuple[int, int]:
    if month is None:
        return clock.hanoi_month(now)
    if not isinstance(month, str):
        raise Invalid("month must look like YYYY-MM")
    try:
        return clock.parse_month(month)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def get(session: Session, pass_id: str, *, for_update: bool = False) -> Pass:
    p = None
    if isinstance(pass_id, str):
        # A lock reloads the row: a copy read earlier in this session may be stale.
        p = session.get(Pass, pass_id, with_for_update=for_update, populate_existing=for_update)
    if p is None:
        raise NotFound(f"no pass {pass_id!r}")
    return p


def revoke(session: Session, pass_id: str, reason: str, *, now: float) -> Pass:
    """Revoke a pass. No credential is issued for it again; the caller then publishes the
    denylist so validators refuse the credentials already out there."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 0 < len(reason) <= 500:
        raise Invalid("a revocation needs a reason of 1 to 500 characters")
    p = get(session, pass_id, for_update=True)
    if p.status == REVOKED:
        raise Conflict(f"pass {p.id} is already revoked")
    p.status, p.revoked_at, p.revoke_reason = REVOKED, int(now), reason
    session.commit()
    return p


def denylist(session: Session, now: float) -> Denylist:
    """Revoked passes that may still have a live credential. An entry drops off once every
    credential issued for the pass has expired: validators refuse those on their own."""
    revoked = session.execute(
        sa.select(Pass.id, Pass.revoked_at, Pass.credentials_until)
        .where(Pass.status == REVOKED, Pass.credentials_until > int(now)))
    entries = {pid: DenyEntry(since, until) for pid, since, until in revoked}
    # Passes moved to another device while an old device's credential may still be alive:
    # only the current device's key is accepted.
    moved = session.execute(
        sa.select(Pass.id, Pass.replaced_at, Pass.replaced_until, DeviceBinding.device_key)
        .join(DeviceBinding, sa.and_(DeviceBinding.pass_id == Pass.id,
                                     DeviceBinding.retired_at.is_(None)))
        .where(Pass.status != REVOKED, Pass.replaced_until > int(now)))
    for pid, since, until, device_key in moved:
        entries[pid] = DenyEntry(since, until, device_key)
    return Denylist(int(now), entries)


def as_dict(session: Session, p: Pass) -> dict:
    binding = session.scalar(sa.select(DeviceBinding).where(
        DeviceBinding.pass_id == p.id, DeviceBinding.retired_at.is_(None)))
    out = {"id": p.id, "account_id": p.account_id, "product": p.product,
           "route": p.route_code, "category": p.category,
           "valid_from": p.valid_from, "valid_until": p.valid_until,
           "valid_from_local": clock.iso(p.valid_from),
           "valid_until_local": clock.iso(p.valid_until),
           "status": p.status, "revoked_at": p.revoked_at, "revoke_reason": p.revoke_reason,
           "credentials_until": p.credentials_until or None, "created_at": p.created_at,
           "device": None}
    if binding is not None:
        out["device"] = {"key": binding.device_key, "custodial": binding.custodial,
                         "bound_at": binding.created_at}
    return out


def _free_id(session: Session) -> str:
    while True:
        candidate = ids.new_id()
        if session.get(Pass, candidate) is None:
            return candidate
