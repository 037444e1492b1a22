"""Unpadded base64url (RFC 7515 section 2), strict on decode."""

import base64
import binascii


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """Decode unpadded base64url; ValueError on anything that is not its canonical form."""
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not unpadded base64url") from None
    if encode(data) != text:  # reject non-canonical trailing bits and stray characters
        raise ValueError("not canonical base64url")
    return data
