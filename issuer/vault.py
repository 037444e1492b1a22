"""Sealing private keys and hashing national ID numbers with the issuer's secret key.

The secret key is a Fernet key (``VEXE_SECRET_KEY`` or ``<DATA_DIR>/secret.key``). A leaked
database alone then yields no private key and no national ID number.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from issuer.errors import NotReady

NATIONAL_ID_LABEL = b"vexe national id v1"


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise NotReady("no secret key: run `vexe init` or set VEXE_SECRET_KEY")
    try:
        return Fernet(secret_key)
    except (ValueError, TypeError):
        raise NotReady("the secret key is not a Fernet key (32 url-safe base64 bytes)") from None


def seal(secret_key: str | None, data: bytes) -> str:
    return _fernet(secret_key).encrypt(data).decode("ascii")


def unseal(secret_key: str | None, token: str) -> bytes:
    try:
        return _fernet(secret_key).decrypt(token)
    except InvalidToken:
        raise NotReady("a sealed key does not open with this secret key: "
                       "is VEXE_SECRET_KEY the one the database was set up with?") from None


def national_id_hash(secret_key: str | None, national_id: str) -> str:
    """Keyed HMAC-SHA256 of a national ID number; the key is derived from the secret key so
    that the Fernet key itself is used for one purpose only."""
    _fernet(secret_key)  # same checks, same messages
    key = hmac.new(secret_key.encode("ascii"), NATIONAL_ID_LABEL, hashlib.sha256).digest()
    return hmac.new(key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()


def derived_key(secret_key: str | None, label: bytes) -> bytes:
    """A key for one purpose (signing cookies, CSRF tokens) derived from the secret key."""
    _fernet(secret_key)
    return hmac.new(secret_key.encode("ascii"), label, hashlib.sha256).digest()
