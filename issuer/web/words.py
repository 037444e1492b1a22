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
