"""Decision reason codes, stable across versions, with the short screen messages.

The messages are English, marked for the catalogues (their Vietnamese is in
shared/locale/vi/LC_MESSAGES/validator.po); :func:`message` says one in every language.

Codes are part of the product's contract: validators journal them, operators chart them,
``vexe validate`` prints them. Never rename one; add new ones at the end.
"""

from shared.i18n import LANGUAGES, N_, gettext

OK = "ok"

ENGLISH: dict[str, str] = {
    OK: N_("Valid. Welcome aboard"),
    "malformed": N_("QR code cannot be read"),
    "unsupported_version": N_("QR code version not supported"),
    "unknown_key": N_("Signing key not trusted"),
    "bad_signature": N_("Ticket signature invalid"),
    "not_yet_valid": N_("Ticket not yet valid"),
    "expired": N_("Ticket expired, open the app online"),
    "outside_validity": N_("Pass not valid at this time"),
    "wrong_route": N_("Pass not valid on this route"),
    "bad_proof": N_("QR code does not match the phone"),
    "stale_proof": N_("QR code is old, show a fresh one"),
    "revoked": N_("Pass has been revoked"),
    "replayed": N_("This QR code was already used"),
    "passback": N_("Pass just used on this bus"),
    "device_replaced": N_("Pass activated on another phone"),
}

REASONS = tuple(ENGLISH)

# Refusals by the validator device itself, before or without a decision on the QR: they are
# never journaled (that is why they happen), so they reach the screen and the local
# interface only. Stable codes too; add new ones at the end.
DEVICE_ENGLISH: dict[str, str] = {
    "storage_full": N_("Validator storage full, not accepting tickets"),
    "storage_error": N_("Validator storage error, not accepting tickets"),
    "journal_damaged": N_("Validator records damaged, not accepting tickets"),
}

DEVICE_REASONS = tuple(DEVICE_ENGLISH)


def said(english: str) -> dict[str, str]:
    """An English message in every language: ``{"vi": ..., "en": ...}``."""
    return {language: gettext(language, english) for language in LANGUAGES}


def message(code: str) -> dict[str, str]:
    """The screen message for a reason code, in every language (``vi``, ``en``)."""
    return said(ENGLISH[code] if code in ENGLISH else DEVICE_ENGLISH[code])


# (Vietnamese, English) per code, as reports read them.
MESSAGES: dict[str, tuple[str, str]] = {
    code: (said(english)["vi"], english) for code, english in ENGLISH.items()}
DEVICE_MESSAGES: dict[str, tuple[str, str]] = {
    code: (said(english)["vi"], english) for code, english in DEVICE_ENGLISH.items()}
