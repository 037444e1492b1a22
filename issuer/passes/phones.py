"""Binding a pass to a device key, and the credentials issued to that device.

A pass is active on one device at a time: binding a new one retires the old binding, and
the old device's credential dies out within its lifetime. A custodial binding is one whose
device key the issuer holds for a rider whose phone can't, so the issuer makes the rotating
QR itself; validators can't tell the difference.

Nothing here commits: a rider's request commits what it did, an operator's action commits it
with its audit entry (:func:`issuer.platform.audit.action`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.platform import ids, metrics, vault
from issuer.passes import passes, signing
from issuer.platform.errors import Conflict, Invalid, NotFound
from shared.i18n import N_
from issuer.platform.models import Account, Credential, DeviceBinding, Pass
from shared import b64, clock, keys, ticket

# A custodial credential is refreshed when it has less than this left: a QR printed or shown
# now then still works for the rest of the day.
CUSTODIAL_REFRESH_MARGIN = 24 * 3600
# A pass this close to its end names the one after it on the same phone, so the phone gets
# next month's credential ahead (issuer.passes.next_month). Sales of next month open on
# SALES_OPEN_DAY, the 28th at the latest; on other days the refresh looks for nothing.
NEXT_MONTH_AHEAD = 15 * 86400


@dataclass(frozen=True)
class Issued:
    """A credential just issued for a pass's bound device."""

    pass_id: str
    credential: str  # compact JWS
    jti: str
    expires: int
    device_key: str
    custodial: bool
    # The pass after this one on the same phone, in this one's last days (next_month).
    follows: str | None = None

    @property
    def qr_body_head(self) -> str:
        """Z || S1 of the QR body, base64url: the phone appends T and its proof signature."""
        return b64.encode(ticket.body_head(self.credential))

    def as_dict(self) -> dict:
        return {"pass_id": self.pass_id, "credential": self.credential, "expires": self.expires,
                "device_key": self.device_key, "custodial": self.custodial,
                "qr_body_head": self.qr_body_head}


def bind_device(session: Session, pass_id: str, device_public_key: str | dict, *, now: float,
                sealing_key: str | None, lifetime: int = ticket.DEFAULT_CREDENTIAL_LIFETIME,
                label: str | None = None) -> Issued:
    """Bind the rider's phone key (base64url P-256 point or JWK) and issue its credential."""
    try:
        device_key = keys.device_public_compressed(keys.load_device_public(device_public_key))
    except (ValueError, TypeError):
        raise Invalid(N_("public_key must be a P-256 public key: a base64url point or an "
                         "EC JWK")) from None
    label = _check_label(label)
    p, old, kid, _ = _lock_usable(session, pass_id, now)
    followers = _followers(session, p, old.device_key) if old and not old.custodial else []
    binding = _bind(session, p, old, device_key, now=now, label=label)
    for later, its_binding in followers:  # next month's pass moves with this one
        _bind(session, later, its_binding, device_key, now=now, label=label)
    return _mint(session, p, binding, kid, now=now, sealing_key=sealing_key, lifetime=lifetime)


def bind_custodial(session: Session, pass_id: str, *, now: float, sealing_key: str | None,
                   lifetime: int = ticket.DEFAULT_CREDENTIAL_LIFETIME) -> Issued:
    """Generate a device key the issuer keeps (sealed) and bind the pass to it."""
    p, old, kid, _ = _lock_usable(session, pass_id, now)
    private = keys.new_device_key()
    sealed = vault.seal(sealing_key, keys.device_private_pem(private))
    binding = _bind(session, p, old, keys.device_public_compressed(private), now=now,
                    sealed=sealed)
    return _mint(session, p, binding, kid, now=now, sealing_key=sealing_key, lifetime=lifetime)


def refresh_credential(session: Session, pass_id: str, *, now: float, sealing_key: str | None,
                       lifetime: int = ticket.DEFAULT_CREDENTIAL_LIFETIME,
                       may_use: Callable[[Pass], object] | None = None) -> Issued:
    """A fresh credential for the device the pass is bound to now.

    ``may_use`` checks the caller may have it (raising if not), on the pass as locked: the
    pass is read once. A refresh is what every phone does; its round trips are counted by a
    test (the pass, its binding and the signing key's id in one; the credential logged; the
    pass's credentials_until; the caller's commit).
    """
    p, binding, kid, follows = _lock_usable(session, pass_id, now, may_use)
    if binding is None:
        raise Conflict(N_("pass %(id)s is not bound to a device: bind one first"), id=p.id)
    issued = _mint(session, p, binding, kid, now=now, sealing_key=sealing_key,
                   lifetime=lifetime)
    return dataclasses.replace(issued, follows=follows)


def custodial_qr(session: Session, pass_id: str, *, at: float, sealing_key: str | None,
                 lifetime: int = ticket.DEFAULT_CREDENTIAL_LIFETIME) -> str:
    """The rotating QR text of a custodial pass at Unix time ``at``.

    The stored credential is reused while it has more than a day left and was signed by the
    key that signs now; otherwise a new one is issued as of ``at``. A key retired (stolen,
    say) is out of every validator's trust list: what it signed is never shown again.
    """
    p = passes.get(session, pass_id)
    if p.status == passes.REVOKED:
        raise Conflict(N_("pass %(id)s is revoked"), id=p.id)
    passes.check_may_hold(accounts.get(session, p.account_id))
    binding = active_binding(session, p.id)
    if binding is None:
        raise Conflict(N_("pass %(id)s is not bound to a device: bind it custodially first"),
                       id=p.id)
    if not binding.custodial:
        raise Conflict(N_("pass %(id)s is held by a phone: its QR is shown on that phone"),
                       id=p.id)
    credential = binding.credential
    if (_needs_refresh(credential, at, lifetime, p.valid_until)
            or _kid(credential) != session.scalar(sa.select(signing.current_kid()))):
        p, binding, kid, _ = _lock_usable(session, p.id, at)
        if binding is None or not binding.custodial:
            raise Conflict(N_("pass %(id)s was moved off the issuer's key just now"), id=p.id)
        credential = _mint(session, p, binding, kid, now=at, sealing_key=sealing_key,
                           lifetime=lifetime).credential
    device = keys.load_device_private_pem(vault.unseal(sealing_key, binding.sealed_private_key))
    return ticket.encode_qr(credential, device, at)


def qr_from_stored(row, *, at: float, sealing_key: str | None, lifetime: int,
                   kid: str | None) -> str | None:
    """The QR text at ``at`` from a custodial binding's stored credential (``row``: its
    ``credential`` and ``sealed_private_key``, and the pass's ``valid_until``), when that
    credential is still good and was signed by ``kid``, the key that signs now; else None
    (:func:`custodial_qr` renews it)."""
    credential = row.credential
    if (credential is None or _needs_refresh(credential, at, lifetime, row.valid_until)
            or _kid(credential) != kid):
        return None
    device = keys.load_device_private_pem(vault.unseal(sealing_key, row.sealed_private_key))
    return ticket.encode_qr(credential, device, at)


def ensure_custodial_qr(session: Session, pass_id: str, *, at: float, sealing_key: str | None,
                        lifetime: int = ticket.DEFAULT_CREDENTIAL_LIFETIME) -> tuple[str, bool]:
    """An operator acting for a rider whose phone can't hold a key: the rotating QR text at
    ``at``, binding the pass to a key the issuer holds if it is on no device; and whether it
    was bound now. A pass held by the rider's phone is refused: only she moves it."""
    bound = active_binding(session, passes.get(session, pass_id).id) is None
    if bound:
        bind_custodial(session, pass_id, now=at, sealing_key=sealing_key, lifetime=lifetime)
    return custodial_qr(session, pass_id, at=at, sealing_key=sealing_key, lifetime=lifetime), bound


def active_binding(session: Session, pass_id: str) -> DeviceBinding | None:
    return session.scalar(sa.select(DeviceBinding).where(
        DeviceBinding.pass_id == pass_id, DeviceBinding.retired_at.is_(None)))


def _kid(credential: str) -> str:
    return json.loads(b64.decode(credential.split(".")[0]))["kid"]


def _needs_refresh(credential: str | None, at: float, lifetime: int, valid_until: int) -> bool:
    if credential is None:
        return True
    payload = json.loads(b64.decode(credential.split(".")[1]))
    nbf, exp = payload["nbf"], payload["exp"]
    if not nbf <= at < exp:
        return True
    # Near its end, but only worth replacing if a new one would live longer.
    return exp - at < CUSTODIAL_REFRESH_MARGIN and min(at + lifetime, valid_until) > exp


def _lock_usable(session: Session, pass_id: str, now: float,
                 may_use: Callable[[Pass], object] | None = None,
                 ) -> tuple[Pass, DeviceBinding | None, str | None, str | None]:
    """The pass, locked and checked usable; its active binding; the signing key's id; the
    pass after it on the same phone (in its last days). One round trip: a refresh is the
    issuer's busiest request."""
    row = None
    if isinstance(pass_id, str):
        # Locked (the pass only, not the binding), so a revocation can't slip in between this
        # check and credentials_until; a lock reloads the row, a copy read earlier may be stale.
        row = session.execute(
            sa.select(Pass, DeviceBinding, signing.current_kid(), Account.identity_level,
                      _next_pass_id(now))
            .join(Account, Account.id == Pass.account_id)
            .outerjoin(DeviceBinding, sa.and_(DeviceBinding.pass_id == Pass.id,
                                              DeviceBinding.retired_at.is_(None)))
            .where(Pass.id == pass_id).with_for_update(of=Pass)
            .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(N_("no pass %(id)s"), id=repr(pass_id))
    p, binding, kid, level, follows = row
    if may_use is not None:
        may_use(p)
    passes.check_level(level)
    if p.status == passes.REVOKED:
        raise Conflict(N_("pass %(id)s is revoked: no credential is issued for it"), id=p.id)
    if p.valid_until <= now:
        raise Conflict(N_("pass %(id)s ended at %(until)s: no credential is issued for it"),
                       id=p.id, until=clock.iso(p.valid_until))
    return p, binding, kid, follows


def _next_pass_id(now: float):
    """The id of the rider's pass that starts when the locked one ends, bound to the same
    phone key; asked only in the locked pass's last NEXT_MONTH_AHEAD seconds."""
    later, its_binding = sa.orm.aliased(Pass), sa.orm.aliased(DeviceBinding)
    return (sa.select(later.id)
            .join(its_binding, sa.and_(its_binding.pass_id == later.id,
                                       its_binding.retired_at.is_(None),
                                       its_binding.custodial.is_(False),
                                       its_binding.device_key == DeviceBinding.device_key))
            .where(later.account_id == Pass.account_id, later.valid_from == Pass.valid_until,
                   later.status == passes.ACTIVE,
                   Pass.valid_until - int(now) <= NEXT_MONTH_AHEAD)
            .limit(1).scalar_subquery())


def _bind(session: Session, p: Pass, old: DeviceBinding | None, device_key: str, *, now: float,
          sealed: str | None = None, label: str | None = None) -> DeviceBinding:
    if old is not None:
        _retire(session, p, old, now)
    binding = DeviceBinding(pass_id=p.id, device_key=device_key, custodial=sealed is not None,
                            sealed_private_key=sealed, label=label, created_at=int(now))
    session.add(binding)
    session.flush()
    return binding


def _retire(session: Session, p: Pass, old: DeviceBinding, now: float) -> None:
    old.retired_at = int(now)
    # Every credential issued so far was for an earlier device: the denylist refuses them
    # until the last one has expired, so the old phone stops riding at once.
    p.replaced_at, p.replaced_until = int(now), p.credentials_until
    session.flush()  # before an insert: the database allows one active binding a pass


def report_lost(session: Session, pass_id: str, reason: str, *, now: float) -> DeviceBinding:
    """The rider's phone is lost or stolen: the pass leaves it at once. Until the rider
    activates the pass on another phone the denylist refuses it on every device; the pass
    itself stays the rider's (it was paid for)."""
    reason = passes.check_reason(reason, N_("reporting a lost phone"))
    p = passes.get(session, pass_id, for_update=True)
    if p.status == passes.REVOKED:
        raise Conflict(N_("pass %(id)s is revoked"), id=p.id)
    binding = active_binding(session, p.id)
    if binding is None:
        raise Conflict(N_("pass %(id)s is on no device"), id=p.id)
    for later, its_binding in _followers(session, p, binding.device_key):
        _retire(session, later, its_binding, now)  # next month's pass leaves the phone too
        its_binding.retire_reason = reason
    _retire(session, p, binding, now)
    binding.retire_reason = reason
    session.flush()
    return binding


def _followers(session: Session, p: Pass, device_key: str) -> list:
    """The rider's passes after ``p`` bound to the same phone key (next month's, bound at
    issue by :mod:`issuer.passes.next_month`): they go where ``p`` goes."""
    return list(session.execute(
        sa.select(Pass, DeviceBinding).join(DeviceBinding, DeviceBinding.pass_id == Pass.id)
        .where(Pass.account_id == p.account_id, Pass.id != p.id,
               Pass.valid_from >= p.valid_until, DeviceBinding.retired_at.is_(None),
               DeviceBinding.custodial.is_(False), DeviceBinding.device_key == device_key)))


def history(session: Session, pass_id: str) -> list[DeviceBinding]:
    """Every device the pass has been on, newest first."""
    return list(session.scalars(sa.select(DeviceBinding).where(DeviceBinding.pass_id == pass_id)
                                .order_by(DeviceBinding.id.desc())))


def binding_as_dict(binding: DeviceBinding) -> dict:
    return {"device_key": binding.device_key, "label": binding.label,
            "custodial": binding.custodial, "activated_at": binding.created_at,
            "activated_at_local": clock.iso(binding.created_at),
            "retired_at": binding.retired_at, "retire_reason": binding.retire_reason,
            "active": binding.retired_at is None}


def _check_label(label) -> str | None:
    if label is None:
        return None
    label = label.strip() if isinstance(label, str) else ""
    if not 0 < len(label) <= 100:
        raise Invalid(N_("a device label must be 1 to 100 characters"))
    return label


def mint_recorded(session: Callable[[], Session], row, *, now: int, sealing_key: str | None,
                  lifetime: int) -> Issued | None:
    """Sign the credential :mod:`issuer.passes.refresh` has just recorded (``row``: the pass,
    its binding, the signing key's id and the credential's id, as the statement answered).
    None if the key it named was retired since: the caller takes the general path.
    ``session`` is asked for only if this process has not unsealed that key yet."""
    private = (signing.unsealed(row.kid, sealing_key=sealing_key)
               or signing.signer(session(), row.kid, sealing_key=sealing_key))
    if keys.key_id(private) != row.kid:
        return None
    credential = ticket.mint_credential(
        private, jti=row.jti, pass_id=row.id, product=ticket.PRODUCTS[row.product],
        routes=[row.route_code] if row.route_code else [ticket.ALL_ROUTES],
        valid_from=row.valid_from, valid_until=row.valid_until, device_key=row.device_key,
        now=now, lifetime=lifetime, category=row.category)
    metrics.credential_minted(False)
    return Issued(row.id, credential, row.jti, min(now + lifetime, row.valid_until),
                  row.device_key, False, row.next_pass_id)


def _mint(session: Session, p: Pass, binding: DeviceBinding, kid: str | None, *, now: float,
          sealing_key: str | None, lifetime: int) -> Issued:
    private = signing.signer(session, kid, sealing_key=sealing_key)
    now = int(now)
    expires = min(now + lifetime, p.valid_until)  # as mint_credential caps it
    jti = _log_credential(session, pass_id=p.id, binding_id=binding.id,
                          kid=keys.key_id(private), nbf=now, exp=expires)
    credential = ticket.mint_credential(
        private, jti=jti, pass_id=p.id, product=ticket.PRODUCTS[p.product],
        routes=[p.route_code] if p.route_code else [ticket.ALL_ROUTES],
        valid_from=p.valid_from, valid_until=p.valid_until, device_key=binding.device_key,
        now=now, lifetime=lifetime, category=p.category)
    p.credentials_until = max(p.credentials_until, expires)
    if binding.custodial:
        binding.credential = credential
    session.flush()
    metrics.credential_minted(binding.custodial)
    return Issued(p.id, credential, jti, expires, binding.device_key, binding.custodial)


# INSERT ... ON CONFLICT DO NOTHING, in the two databases the issuer runs on.
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _log_credential(session: Session, **fields) -> str:
    """Record a credential under a new id, and return the id. The primary key keeps ids
    unique: an id already taken inserts nothing and another is drawn, so a credential costs
    one statement, with no lookup before it."""
    insert = _INSERT[session.get_bind().dialect.name]
    while True:
        jti = ids.new_jti()
        taken = session.execute(insert(Credential).values(jti=jti, **fields)
                                .on_conflict_do_nothing(index_elements=[Credential.jti])
                                .returning(Credential.jti)).first() is None
        if not taken:
            return jti
