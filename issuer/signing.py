"""The issuer's signing keys: rotation, retirement, and the trust list validators read.

Like ``MultiFernet``: the newest key that is not retired signs, every key not retired
verifies. Rotating adds a key; credentials signed by older keys keep verifying until those
keys are retired, which takes them out of the trust list.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session

from issuer import vault
from issuer.errors import Conflict, NotFound, NotReady
from issuer.models import SigningKey
from shared import keys


def create(session: Session, *, secret_key: str | None, now: float) -> SigningKey:
    """Add a new key, which signs from now on. The caller commits."""
    private = keys.new_signing_key()
    row = SigningKey(kid=keys.key_id(private), public_key=keys.raw_public(private),
                     sealed_private_key=vault.seal(secret_key, keys.private_pem(private)),
                     created_at=int(now))
    session.add(row)
    session.flush()
    return row


def rotate(session: Session, *, secret_key: str | None, now: float) -> SigningKey:
    row = create(session, secret_key=secret_key, now=now)
    session.commit()
    return row


def retire(session: Session, kid: str, *, now: float) -> SigningKey:
    """Take a key out of the trust list. The last key that is not retired stays."""
    row = session.scalar(sa.select(SigningKey).where(SigningKey.kid == kid).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"no signing key {kid!r}")
    if row.retired_at is not None:
        raise Conflict(f"signing key {kid} is already retired")
    if len(_unretired(session)) == 1:
        raise Conflict(f"signing key {kid} is the only active key: rotate first, then retire it")
    row.retired_at = int(now)
    session.commit()
    return row


def list_keys(session: Session) -> list[SigningKey]:
    """Every key, oldest first."""
    return list(session.scalars(sa.select(SigningKey).order_by(SigningKey.id)))


def current(session: Session) -> SigningKey | None:
    """The key that signs: the newest one not retired."""
    unretired = _unretired(session)
    return unretired[-1] if unretired else None


def private_key(session: Session, *, secret_key: str | None) -> ed25519.Ed25519PrivateKey:
    row = current(session)
    if row is None:
        raise NotReady("no signing key: run `vexe init`")
    return keys.load_private_pem(vault.unseal(secret_key, row.sealed_private_key))


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
