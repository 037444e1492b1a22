"""Identifiers and bearer tokens, all from the operating system's CSPRNG."""

import hashlib
import os
import secrets

from shared import b64

# Crockford's base32: no I, L, O or U, so an id read aloud or typed from a card survives.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 10  # 50 bits


def new_id() -> str:
    """An account or pass id, e.g. ``7K3M9QX2TB``."""
    return "".join(secrets.choice(CROCKFORD) for _ in range(ID_LENGTH))


def new_jti() -> str:
    """A credential id: 6 random bytes, 8 base64url characters (it travels in every QR)."""
    return b64.encode(os.urandom(6))


def new_token() -> str:
    """A bearer token for a rider or the operator."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token. Tokens are 256 random bits, so a plain hash suffices."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
