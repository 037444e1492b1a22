"""Codes become words: the states and kinds stored as codes (``pending``, ``revoked``,
``multi``), said to people in their language. A template writes ``p.status|word("pass")``;
a code with no word here shows as itself, and the translation test cannot see it, so add
the word here when adding a code.

Products and fare categories are data with a name in each language (``name_vi``,
``name_en``): the ``named`` filter picks the one of the request's language.
"""

from __future__ import annotations

from flask_babel import gettext

from shared.i18n import N_

WORDS: dict[str, dict[str, str]] = {
    "pass": {
        "active": N_("valid"),
        "revoked": N_("revoked"),
        "expired": N_("expired"),
    },
    "order": {
        "pending": N_("waiting for payment"),
        "paid": N_("paid"),
        "cancelled": N_("cancelled"),
        "expired": N_("expired unpaid"),
        "refunded": N_("refunded"),
    },
    "application": {
        "pending": N_("waiting for a decision"),
        "approved": N_("approved"),
        "rejected": N_("rejected"),
    },
    "product": {
        "single": N_("one route"),
        "multi": N_("all routes"),
        "free": N_("free pass"),
    },
    "key": {
        "signing": N_("signs now"),
        "verifying": N_("still accepted"),
        "retired": N_("retired"),
    },
    "role": {
        "clerk": N_("sales clerk"),
        "approver": N_("free-pass approver"),
        "administrator": N_("administrator"),
        "analyst": N_("ridership analyst"),
    },
    "fare": {
        "reduced": N_("reduced fare"),
        "free": N_("rides free"),
    },
    "payment": {
        "started": N_("started, not finished"),
        "paid": N_("paid"),
        "held": N_("held for a clerk"),
        "failed": N_("did not go through"),
        "applied": N_("applied to the order"),
        "refunding": N_("being refunded"),
        "refunded": N_("refunded"),
    },
    # A scan on a bus, as the rider's trips page says it.
    "scan": {
        "board": N_("got on"),
        "alight": N_("got off"),
    },
    "decision": {
        "accept": N_("accepted"),
        "refuse": N_("refused"),
    },
    # Why a validator refused a pass (shared.reasons), in words for the rider.
    "refusal": {
        "ok": N_("accepted"),
        "malformed": N_("the QR code could not be read"),
        "unsupported_version": N_("the app was too old for this validator: update it"),
        "unknown_key": N_("the ticket on the phone was not recognised"),
        "bad_signature": N_("the ticket on the phone was not recognised"),
        "not_yet_valid": N_("the pass had not started yet"),
        "expired": N_("the ticket on the phone was out of date: open the app while online"),
        "outside_validity": N_("the pass was not valid on that day"),
        "wrong_route": N_("the pass is not for that route"),
        "bad_proof": N_("the code did not match the phone"),
        "stale_proof": N_("the code shown was old: show a fresh one"),
        "revoked": N_("the pass had been revoked"),
        "replayed": N_("that code had already been used"),
        "passback": N_("the pass had just been used on that bus"),
        "device_replaced": N_("the pass was active on another phone"),
    },
    "help": {
        "open": N_("waiting for an answer"),
        "answered": N_("answered"),
    },
    "provider": {
        "counter": N_("cash at a counter"),
        "vnpay": N_("card or e-wallet"),
        "vietqr": N_("bank transfer (VietQR)"),
    },
    # The console's words (cloned-pass alerts, the reconciliation).
    "alert": {
        "open": N_("open"),
        "dismissed": N_("dismissed"),
        "revoked": N_("pass revoked"),
        "all": N_("all"),
    },
    # What a payment notification came to (issuer.sales.settlement), inside its outcome.
    "settlement": {
        "paid": N_("paid"),
        "duplicate": N_("already settled"),
        "not_found": N_("held, no such order"),
        "wrong_amount": N_("held, wrong amount"),
        "not_payable": N_("held, order not payable"),
        "declined": N_("declined"),
    },
    "reconcile": {
        "summary": N_("summary"),
        "mismatch": N_("to look at"),
    },
    "reconcile_item": {
        "orders paid": N_("orders paid"),
        "orders refunded": N_("orders refunded"),
        "notifications": N_("payment notifications"),
        "held": N_("payments held"),
    },
}


def word(code: str | None, kind: str) -> str:
    """``code`` of ``kind`` in the request's language; the code itself when it has no word."""
    if code is None:
        return ""
    known = WORDS.get(kind, {}).get(code)
    return gettext(known) if known else code


def named(thing, language: str) -> str:
    """A product's or fare category's name in ``language`` (its ``name_vi`` / ``name_en``)."""
    if thing is None:
        return ""
    return getattr(thing, f"name_{language}", None) or getattr(thing, "name_vi", "") or ""
