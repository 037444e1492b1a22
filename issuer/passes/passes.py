"""Passes: issuing them for a calendar month in Hanoi time, revoking them, the denylist."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.passes import catalogue, revocation
from issuer.platform import ids
from issuer.network import routes
from issuer.platform.errors import Conflict, Forbidden, Invalid, NotFound, Phrase
from shared.i18n import N_
from issuer.platform.models import DeviceBinding, Pass
from shared import clock
from shared.denylist import DenyEntry, Denylist

ACTIVE = "active"
REVOKED = "revoked"
HOLDING_LEVEL = 2  # level-1 e-ID accounts may sign in but hold no pass


def issue(session: Session, account_id: str, product: str, *, now: float,
          route: str | None = None, month: str | None = None,
          category: str | None = None) -> Pass:
    """Issue a pass for ``month`` (YYYY-MM, default the current month in Hanoi).

    Monthly passes run for that calendar month; a free pass for its category's validity
    (twelve months) from its start. Everything is checked before anything is written. The
    caller commits: its unit of work may hold more (an order paid, an audit entry).
    """
    account = accounts.get(session, account_id)
    check_may_hold(account)
    product = catalogue.product(session, product).code
    route_code = check_route(session, product, route)
    rule = _check_category_given(session, product, category)
    year, mon = _month(month, now)
    months = rule.validity_months if rule is not None else 1
    valid_from = clock.month_bounds(year, mon)[0]
    valid_until = clock.month_bounds(*_add_months(year, mon, months - 1))[1]
    if valid_until <= now:
        raise Invalid(N_("month %(month)s is over: a pass must still be valid"),
                      month=f"{year:04d}-{mon:02d}")
    if rule is not None:
        catalogue.check_age(rule, account, valid_from)
        check_free_not_blocked(session, account.id)
    p = Pass(id=_free_id(session), account_id=account.id, product=product, route_code=route_code,
             category=category, valid_from=valid_from, valid_until=valid_until, status=ACTIVE,
             credentials_until=0, created_at=int(now))
    session.add(p)
    session.flush()
    return p


def check_may_hold(account) -> None:
    check_level(account.identity_level)


def check_level(identity_level: int) -> None:
    """Every product needs the same level: issuing a pass, binding it to a phone and each
    credential for it check it, so an account that stands lower gets nothing more."""
    if identity_level < HOLDING_LEVEL:
        raise Forbidden(N_("a pass needs a level-2 e-ID account; this one is level %(level)s"),
                        level=identity_level)


def check_route(session: Session, product: str, route: str | None) -> str | None:
    """The route code a pass of ``product`` runs on: one for a single-route pass, else None."""
    if product != "single":
        if route is not None:
            if product == "multi":
                raise Invalid(N_("an all-routes pass covers no single route: leave the route out"))
            if product == "free":
                raise Invalid(N_("a free pass covers no single route: leave the route out"))
            raise Invalid(N_("a %(product)s pass covers no single route: leave the route out"),
                          product=product)
        return None
    if route is None:
        raise Invalid(N_("a single-route pass needs a route"))
    found = routes.get(session, route)
    if found.retired_at is not None:
        raise Conflict(N_("route %(route)s is retired (gone from the network): "
                          "it sells no new pass"), route=found.code)
    return found.code


def _check_category_given(session: Session, product: str, category: str | None):
    """The free pass's category rule; None for a monthly pass (which has no category)."""
    if product != catalogue.FREE_PRODUCT:
        if category is not None:
            raise Invalid(N_("only a free pass has a category"))
        return None
    if category is None:
        raise Invalid(N_("a free pass needs a category"))
    return catalogue.category(session, category, catalogue.FREE)


def _month(month: str | None, now: float) -> tuple[int, int]:
    if month is None:
        return clock.hanoi_month(now)
    if not isinstance(month, str):
        raise Invalid(N_("month must look like YYYY-MM"))
    try:
        return clock.parse_month(month)
    except ValueError:
        raise Invalid(N_("month must look like YYYY-MM, got %(got)s"), got=repr(month)) from None


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def get(session: Session, pass_id: str, *, for_update: bool = False) -> Pass:
    p = None
    if isinstance(pass_id, str):
        # A lock reloads the row: a copy read earlier in this session may be stale.
        p = session.get(Pass, pass_id, with_for_update=for_update, populate_existing=for_update)
    if p is None:
        raise NotFound(N_("no pass %(id)s"), id=repr(pass_id))
    return p


def revoke(session: Session, pass_id: str, reason: str, *, now: float,
           code: str = revocation.OTHER) -> Pass:
    """Revoke a pass. No credential is issued for it again. The caller commits, then
    publishes the denylist so validators refuse the credentials already out there.
    ``code`` is why (:mod:`issuer.passes.revocation`), ``reason`` the staff's text."""
    reason = check_reason(reason)
    code = revocation.get(code).code
    p = get(session, pass_id, for_update=True)
    if p.status == REVOKED:
        raise Conflict(N_("pass %(id)s is already revoked"), id=p.id)
    p.status, p.revoked_at, p.revoke_reason = REVOKED, int(now), reason
    p.revoke_code, p.free_allowed_at = code, None
    return p


def restore(session: Session, pass_id: str, *, now: float) -> Pass:
    """Switch a pass revoked by mistake back on. Refused for any other reason, for a pass
    whose time is over, and when the rider has since bought the same pass for its month
    (two passes for one month would be paid once). The caller commits, then publishes the
    denylist, from which the pass drops."""
    p = get(session, pass_id, for_update=True)
    if p.status != REVOKED:
        raise Conflict(N_("pass %(id)s is not revoked"), id=p.id)
    if not revocation.of_pass(p).restorable:
        raise Conflict(N_("only a pass revoked by mistake can be restored; pass %(id)s was "
                          "revoked for another reason"), id=p.id)
    if p.valid_until <= now:
        raise Conflict(N_("pass %(id)s has ended: there is nothing to restore"), id=p.id)
    same = session.scalar(sa.select(Pass.id).where(
        Pass.account_id == p.account_id, Pass.product == p.product, Pass.status == ACTIVE,
        Pass.route_code.is_(None) if p.route_code is None else Pass.route_code == p.route_code,
        Pass.valid_from < p.valid_until, Pass.valid_until > p.valid_from))
    if same is not None:
        raise Conflict(N_("the rider already has pass %(other)s for the same time: pass "
                          "%(id)s is not restored"), other=same, id=p.id)
    p.status, p.revoked_at, p.revoke_reason, p.revoke_code = ACTIVE, None, None, None
    return p


def free_blocked_by(session: Session, account_id: str) -> Pass | None:
    """The account's pass revoked for fraud (or the like) that no clerk has decided on yet:
    while there is one, the account gets no new free pass."""
    return session.scalars(sa.select(Pass).where(
        Pass.account_id == account_id, Pass.status == REVOKED,
        Pass.revoke_code.in_(revocation.BLOCKS_FREE), Pass.free_allowed_at.is_(None))
        .order_by(Pass.revoked_at.desc())).first()


def check_free_not_blocked(session: Session, account_id: str) -> None:
    blocked = free_blocked_by(session, account_id)
    if blocked is not None:
        raise Forbidden(N_("pass %(id)s of this account was revoked (%(why)s): a new free pass "
                           "waits for a clerk's decision"), id=blocked.id,
                        why=Phrase(revocation.REASONS[blocked.revoke_code].staff))


def allow_free_again(session: Session, account_id: str, *, now: float) -> list[Pass]:
    """A clerk's decision: the account may have a free pass again. Returns the passes that
    blocked it; the caller commits (with the audit entry)."""
    blocking = session.scalars(sa.select(Pass).where(
        Pass.account_id == account_id, Pass.status == REVOKED,
        Pass.revoke_code.in_(revocation.BLOCKS_FREE), Pass.free_allowed_at.is_(None))
        .with_for_update()).all()
    if not blocking:
        raise Conflict(N_("account %(id)s is not waiting for a decision"), id=account_id)
    for p in blocking:
        p.free_allowed_at = int(now)
    return blocking


def blocked_accounts(session: Session, limit: int = 200) -> list[Pass]:
    """Passes that keep their account from a free pass, newest revocation first."""
    return list(session.scalars(sa.select(Pass).where(
        Pass.status == REVOKED, Pass.revoke_code.in_(revocation.BLOCKS_FREE),
        Pass.free_allowed_at.is_(None)).order_by(Pass.revoked_at.desc()).limit(limit)))


def check_reason(reason, what: str = N_("a revocation")) -> str:
    """``reason`` stripped; Invalid unless 1 to 500 characters. ``what`` is marked with ``N_``."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 0 < len(reason) <= 500:
        raise Invalid(N_("%(what)s needs a reason of 1 to 500 characters"), what=Phrase(what))
    return reason


def denylist(session: Session, now: float) -> Denylist:
    """Revoked passes that may still have a live credential. An entry drops off once every
    credential issued for the pass has expired: validators refuse those on their own."""
    revoked = session.execute(
        sa.select(Pass.id, Pass.revoked_at, Pass.credentials_until)
        .where(Pass.status == REVOKED, Pass.credentials_until > int(now)))
    entries = {pid: DenyEntry(since, until) for pid, since, until in revoked}
    # Passes moved to another device while an old device's credential may still be alive:
    # only the current device's key is accepted. A pass whose phone was reported lost and
    # that is on no device yet is refused on every device until it is activated again.
    moved = session.execute(
        sa.select(Pass.id, Pass.replaced_at, Pass.replaced_until, DeviceBinding.device_key)
        .outerjoin(DeviceBinding, sa.and_(DeviceBinding.pass_id == Pass.id,
                                          DeviceBinding.retired_at.is_(None)))
        .where(Pass.status != REVOKED, Pass.replaced_until > int(now)))
    for pid, since, until, device_key in moved:
        entries[pid] = DenyEntry(since, until, device_key)
    return Denylist(int(now), entries)


def as_dict(session: Session, p: Pass) -> dict:
    binding = session.scalar(sa.select(DeviceBinding).where(
        DeviceBinding.pass_id == p.id, DeviceBinding.retired_at.is_(None)))
    return shown(p, binding)


def shown(p, binding) -> dict:
    """A pass as the API shows it: ``p`` a pass and ``binding`` its active device binding
    (None: no phone), as rows or any objects with their columns' names."""
    out = {"id": p.id, "account_id": p.account_id, "product": p.product,
           "route": p.route_code, "category": p.category,
           "valid_from": p.valid_from, "valid_until": p.valid_until,
           "valid_from_local": clock.iso(p.valid_from),
           "valid_until_local": clock.iso(p.valid_until),
           "status": p.status, "revoked_at": p.revoked_at, "revoke_reason": p.revoke_reason,
           "revoke_code": p.revoke_code,
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
