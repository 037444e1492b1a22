"""The rider's card on the phone: ``/card/``, an installable page that shows the pass and its
rotating QR, online or not.

The page is a shell that works without the network: its script keeps the phone's own key
(made on the phone, never leaving it), the credential and what the card shows, signs a proof
every rotation period and draws the QR. A service worker serves the shell offline. A phone
that cannot keep a key gets the QR the issuer makes for it (custodial), online only.
"""

from __future__ import annotations

import flask


def init_app(app: flask.Flask) -> None:
    """The card's pages; their rotation period is the setting CARD_ROTATION."""
    from issuer.card import pages

    app.register_blueprint(pages.bp)
    # The icon a browser asks every site for by itself, outside the card's own path.
    app.add_url_rule("/favicon.ico", "favicon", pages.favicon)
