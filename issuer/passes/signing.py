"""The issuer's signing keys: rotation, retirement, and the trust list validators read.

Like ``MultiFernet``: the newest key that is not retired signs, every key not retired
verifies. Rotating adds a key; credentials signed by older keys keep verifying until those
keys are retired, which takes them out of the trust list.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session

from issuer.platform import vault
from issuer.platform.errors import Conflict, NotFound, NotReady
from shared.i18n import N_
from issuer.platform.models import SigningKey
from shared import keys


def create(session: Session, *, sealing_key: str | None, now: float) -> SigningKey:
    """Add a new key, which signs from now on. The caller commits."""
    private = keys.new_signing_key()
    row = SigningKey(kid=keys.key_id(private), public_key=keys.raw_public(private),
                     sealed_private_key=vault.seal(sealing_key, keys.private_pem(private)),
                     created_at=int(now))
    session.add(row)
    session.flush()
    return row


def rotate(session: Session, *, sealing_key: str | None, now: float) -> SigningKey:
    row = create(session, sealing_key=sealing_key, now=now)
    session.commit()
    return row


def retire(session: Session, kid: str, *, now: float) -> SigningKey:
    """Take a key out of the trust list. The last key that is not retired stays. The caller
    commits."""
    row = session.scalar(sa.select(SigningKey).where(SigningKey.kid == kid).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(N_("no signing key %(kid)s"), kid=repr(kid))
    if row.retired_at is not None:
        raise Conflict(N_("signing key %(kid)s is already retired"), kid=kid)
    if len(_unretired(session)) == 1:
        raise Conflict(N_("signing key %(kid)s is the only active key: rotate first, then "
                          "retire it"), kid=kid)
    row.retired_at = int(now)
    session.flush()
    return row


def list_keys(session: Session) -> list[SigningKey]:
    """Every key, oldest first."""
    return list(session.scalars(sa.select(SigningKey).order_by(SigningKey.id)))


def current(session: Session) -> SigningKey | None:
    """The key that signs: the newest one not retired."""
    unretired = _unretired(session)
    return unretired[-1] if unretired else None


def private_key(session: Session, *, sealing_key: str | None) -> ed25519.Ed25519PrivateKey:
    """The current key, unsealed now (``vexe init`` checks the sealing key opens it)."""
    row = current(session)
    if row is None:
        raise NotReady(N_("no signing key: run `vexe init`"))
    return keys.load_private_pem(vault.unseal(sealing_key, row.sealed_private_key))


def current_kid():
    """The id of the key that signs, as a scalar subquery: a caller reads it in the same
    round trip as what it locks, and passes it to :func:`signer`."""
    return (sa.select(SigningKey.kid).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.id.desc()).limit(1).scalar_subquery())


# The signing key unsealed, per process, keyed by the sealing key and the key's id: unsealing
# (Fernet, then PEM) costs more than the signature and a round trip. Which key signs is still
# read from the database for every credential (current_kid), so a key rotated out or retired
# by any process stops signing here at once. Only one entry is kept: the current key.
_unsealed: dict[tuple[str, str], ed25519.Ed25519PrivateKey] = {}


def unsealed(kid: str | None, *, sealing_key: str | None) -> ed25519.Ed25519PrivateKey | None:
    """The private key of ``kid`` if this process has unsealed it already (no database)."""
    return _unsealed.get((sealing_key, kid)) if sealing_key else None


def signer(session: Session, kid: str | None, *,
           sealing_key: str | None) -> ed25519.Ed25519PrivateKey:
    """The private key of ``kid``, which the caller has just read as the current key."""
    global _unsealed
    if kid is None:
        raise NotReady(N_("no signing key: run `vexe init`"))
    cached = unsealed(kid, sealing_key=sealing_key)
    if cached is not None:
        return cached
    row = session.scalar(sa.select(SigningKey).where(SigningKey.kid == kid,
                                                     SigningKey.retired_at.is_(None)))
    if row is None:  # retired since it was read: the newest key left signs
        row = current(session)
        if row is None:
            raise NotReady(N_("no signing key: run `vexe init`"))
    private = keys.load_private_pem(vault.unseal(sealing_key, row.sealed_private_key))
    if keys.key_id(private) != row.kid:
        raise NotReady(N_("signing key %(kid)s holds another key: the database was altered"),
                       kid=row.kid)
    _unsealed = {(sealing_key, row.kid): private}  # one assignment: threads see old or new
    return private


def trust_list(session: Session) -> keys.TrustList:
    return keys.TrustList([
        keys.TrustedKey(row.kid, ed25519.Ed25519PublicKey.from_public_bytes(row.public_key),
                        not_before=row.created_at)
        for row in _unretired(session)])


def as_dict(row: SigningKey, signing_kid: str | None) -> dict:
    """A key as operators see it: public facts only."""
    return {"kid": row.kid, "created_at": row.created_at, "retired_at": row.retired_at,
            "active": row.kid == signing_kid}


def _unretired(session: Session) -> list[SigningKey]:
    return list(session.scalars(
        sa.select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id)))
