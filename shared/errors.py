"""Exceptions raised by the ticket format. Each maps to one stable reason code."""


class TicketError(Exception):
    """A QR text or credential that cannot be accepted; ``reason`` is its reason code."""

    reason = "malformed"


class Malformed(TicketError):
    """The text is not a well-formed vexe QR (bad prefix, encoding, compression, JSON or claim types)."""

    reason = "malformed"


class UnsupportedVersion(TicketError):
    """The prefix names a format version this code does not read."""

    reason = "unsupported_version"


class UnknownKey(TicketError):
    """The credential's ``kid`` is not in the trust list (never known, or retired)."""

    reason = "unknown_key"


class BadSignature(TicketError):
    """The issuer's signature does not verify, or the header names another algorithm."""

    reason = "bad_signature"


class BadProof(TicketError):
    """The device's rotating proof does not verify against the key bound in the credential."""

    reason = "bad_proof"
