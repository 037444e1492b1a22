"""The rider's card on the phone: ``/card/``, an installable page that shows the pass and its
rotating QR, online or not.

The page is a shell that works without the network: its script keeps the phone's own key
(made on the phone, never leaving it), the credential and what the card shows, signs a proof
every rotation period and draws the QR. A service worker serves the shell offline. A phone
that cannot keep a key gets the QR the issuer makes for it (custodial), online only.
"""

from __future__ import annotations

import flask

from issuer.errors import NotReady
from shared import ticket

DEFAULT_ROTATION = ticket.DEFAULT_ROTATION  # seconds; VEXE_CARD_ROTATION changes it
# A proof shown for a whole period must still be fresh at its end, with room for the clocks
# and the scan: the period can't come near the validators' freshness window.
MAX_ROTATION = ticket.DEFAULT_FRESHNESS - 15


def init_app(app: flask.Flask) -> None:
    from issuer.card import pages

    app.config["CARD_ROTATION"] = _rotation(app.config.get("CARD_ROTATION", DEFAULT_ROTATION))
    app.register_blueprint(pages.bp)


def _rotation(value) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if not 1 <= seconds <= MAX_ROTATION:
        raise NotReady(f"CARD_ROTATION must be seconds, 1 to {MAX_ROTATION}, got {value!r}")
    return seconds
