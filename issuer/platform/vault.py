"""Sealing private keys with the sealing key, hashing national ID numbers with the national-ID
key (issuer.platform.keyring says what each key is and where it lives).

A leaked database alone then yields no private key and no national ID number.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from issuer.platform.errors import NotReady
from shared.i18n import N_


def _fernet(sealing_key: str | None) -> MultiFernet:
    """The sealing key's Fernet keys, the first sealing, every one opening."""
    if not sealing_key:
        raise NotReady(N_("no sealing key: run `vexe init` or set VEXE_SEALING_KEY"))
    try:
        return MultiFernet([Fernet(key) for key in sealing_key.split()])
    except (ValueError, TypeError):
        raise NotReady(N_("the sealing key is not a Fernet key (32 url-safe base64 bytes)")) \
            from None


def seal(sealing_key: str | None, data: bytes) -> str:
    return _fernet(sealing_key).encrypt(data).decode("ascii")


def unseal(sealing_key: str | None, token: str) -> bytes:
    try:
        return _fernet(sealing_key).decrypt(token)
    except InvalidToken:
        raise NotReady(N_("a sealed key does not open with this sealing key: "
                          "is it the one the database was set up with?")) from None


def reseal(sealing_key: str | None, token: str) -> str:
    """``token`` sealed again with the first key (``MultiFernet.rotate``)."""
    try:
        return _fernet(sealing_key).rotate(token).decode("ascii")
    except InvalidToken:
        raise NotReady(N_("a sealed key does not open with this sealing key: "
                          "is it the one the database was set up with?")) from None


def national_id_hash(national_id_key: str | None, national_id: str) -> str:
    """Keyed HMAC-SHA256 of a national ID number."""
    if not national_id_key:
        raise NotReady(N_("no national-ID key: run `vexe init` or set VEXE_NATIONAL_ID_KEY"))
    key = bytes.fromhex(national_id_key)
    return hmac.new(key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()


# The label of the key that pseudonymises pass ids in exports (backoffice.tides). Derived
# from the national-ID key because that key is never rotated: a pass keeps its pseudonym from
# one export to the next. The label keeps the two uses apart: no pseudonym is ever a
# national-ID hash of the same text.
PSEUDONYM_LABEL = b"vexe export pseudonym v1"
PSEUDONYM_HEX = 32  # 128 bits: no two passes of a city share one


def pseudonymiser(national_id_key: str | None):
    """A function from a pass id to its keyed pseudonym: HMAC-SHA256 under a key derived
    from the national-ID key, cut to 128 bits. Without the key, a pseudonym names no pass,
    and a guessed pass id cannot be checked against one."""
    if not national_id_key:
        raise NotReady(N_("no national-ID key: run `vexe init` or set VEXE_NATIONAL_ID_KEY"))
    key = hmac.new(bytes.fromhex(national_id_key), PSEUDONYM_LABEL, hashlib.sha256).digest()

    def pseudonym(pass_id: str) -> str:
        digest = hmac.new(key, pass_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX]

    return pseudonym
