"""A development payment gateway that speaks VNPay's 2.1 protocol byte for byte (the
signatures in :mod:`shared.vnpay`): the payment page a rider is redirected to, the IPN it
sends the merchant, and the merchant API (``querydr``, ``refund``).

It stands in for the real gateway on a laptop and in the tests, as ``vexe idp serve`` stands
in for the e-ID: the issuer talks to it exactly as it would to VNPay. Instead of a card form
its page lets a tester pay, decline or abandon, and choose how the IPN goes: at once, late,
twice, held until the tester sends it, or never. Everything is in memory; a restart forgets
every transaction. It imports nothing of the issuer's.
"""

from __future__ import annotations

import secrets

import flask
from flask_wtf.csrf import CSRFProtect

from gateway import server

IPN_MODES = server.IPN_MODES


def create_app(config: dict) -> flask.Flask:
    """``config``: ``TERMINALS``, a list of ``{"tmn_code", "hash_secret", "ipn_url"}``;
    optionally ``IPN_DELAY`` (seconds a late IPN waits, default 5), ``IPN_RETRIES`` (calls
    after the first while the merchant does not confirm, default 5) and ``IPN_RETRY_DELAY``
    (seconds between them, default 2)."""
    app = flask.Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=secrets.token_bytes(32), SESSION_COOKIE_NAME="gateway_session",
                      SESSION_COOKIE_SAMESITE="Lax", WTF_CSRF_TIME_LIMIT=None,
                      IPN_DELAY=5.0, IPN_RETRIES=5, IPN_RETRY_DELAY=2.0)
    app.config.update(config)
    app.extensions["gateway"] = server.Ledger(
        {t["tmn_code"]: server.Terminal(t["tmn_code"], t["hash_secret"], t["ipn_url"])
         for t in app.config["TERMINALS"]})
    csrf = CSRFProtect(app)  # the tester's choices are forms
    app.register_blueprint(server.bp)
    csrf.exempt(server.merchant_api)  # merchants call it with signed JSON, not from a form
    return app
