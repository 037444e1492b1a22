"""A development identity provider that speaks real OpenID Connect (discovery, JWKS,
authorization code with PKCE, token, userinfo; RS256 ID tokens), built on Authlib's server.

It stands in for the national e-ID on a laptop, in the demo and in the tests: the issuer
talks to it exactly as it would to the real one. Instead of the national app's sign-in it
shows a list of test citizens to choose from. Everything is in memory; a restart forgets
codes and tokens and makes a new signing key.

For testing relying parties it can be told to misbehave (``FAULT``): a wrong nonce, audience
or issuer, an expired, tampered or foreign-signed ID token.
"""

from __future__ import annotations

import secrets

import flask
from flask_wtf.csrf import CSRFProtect
from joserfc.jwk import RSAKey

from idp import server

FAULTS = ("nonce", "audience", "issuer", "expired", "signature", "unknown_key")


def create_app(config: dict) -> flask.Flask:
    """``config``: ``ISSUER`` (this provider's URL, as clients see it) and ``CLIENTS``, a list
    of ``{"client_id", "client_secret", "redirect_uris"}``."""
    app = flask.Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=secrets.token_bytes(32), FAULT=None,
                      SESSION_COOKIE_NAME="idp_session", SESSION_COOKIE_SAMESITE="Lax",
                      WTF_CSRF_TIME_LIMIT=None)
    app.config.update(config)
    app.config["ISSUER"] = app.config["ISSUER"].rstrip("/")
    app.extensions["idp_key"] = RSAKey.generate_key(
        2048, parameters={"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"})
    csrf = CSRFProtect(app)  # the citizen chooser is a form
    server.init_app(app)
    # Clients call these with their own credentials or tokens, not from the form.
    csrf.exempt(server.token)
    csrf.exempt(server.userinfo)
    return app
