"""Riders sign in with the national e-ID: ``/signin`` sends the browser to the provider,
``/signin/callback`` comes back with a code, ``/signout`` ends the session."""

from __future__ import annotations

import logging

import flask
import requests
from authlib.integrations.base_client import OAuthError
from flask_babel import gettext as _
from joserfc.errors import JoseError

from issuer.web import auth, limits, browser
from issuer.platform import db, metrics
from issuer.identity import eid as identity, oidc
from issuer.platform.errors import Conflict, IssuerError
from shared import clock
from shared.i18n import N_

log = logging.getLogger(__name__)

bp = flask.Blueprint("rider_login", __name__)

NEXT_KEY = "signin_next"

# What the rider reads when the e-ID sign-in does not end in her account: what happened and
# what to do, never the protocol's words (those go to the log).
UNREACHABLE = N_("The e-ID service cannot be reached just now. Try again in a few minutes.")
REFUSED = N_("You are not signed in: the e-ID sign-in was cancelled or did not finish. "
             "Try again, and confirm the sign-in in the e-ID app.")
# Levels are 1 (registered) and 2 (verified in person): a lower level is always 1 under 2.
LOWER_LEVEL = N_("You signed in with a level-1 e-ID, but this account was verified at level 2. "
                 "Sign in with the level-2 e-ID of the account's holder.")
ANOTHER_EID = N_("An account for your national ID number already exists, opened with another "
                 "e-ID. Sign in with that e-ID, or call the hotline.")
NO_ACCOUNT = N_("Your e-ID was accepted, but your account could not be opened. "
                "Try again later, or call the hotline.")


@bp.get("/signin")
@limits.sign_in_redirect
def login():
    flask.session[NEXT_KEY] = browser.safe_next(flask.request.args.get("next"), "/my/")
    redirect_uri = flask.url_for("rider_login.callback", _external=True)
    try:
        return oidc.client().authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError) as exc:  # discovery document unreachable
        log.warning("e-ID discovery failed: %s", exc)
        return _failed(UNREACHABLE, 502)


@bp.get("/signin/callback")
@limits.sign_in_redirect
def callback():
    eid = oidc.client()
    issuer = flask.current_app.config["OIDC_ISSUER"].rstrip("/")
    try:
        token = eid.authorize_access_token(claims_options=oidc.id_token_checks(issuer))
        verified = token.get("userinfo")
        if verified is None:
            raise OAuthError(description="the provider sent no ID token")
        profile = eid.userinfo(token=token)
    except (OAuthError, JoseError) as exc:
        # A bad state, a refusal at the provider, or an ID token that fails its checks.
        log.info("e-ID sign-in refused: %s", _describe(exc))
        return _failed(REFUSED, 400)
    except requests.RequestException as exc:
        log.warning("e-ID provider unreachable: %s", exc)
        return _failed(UNREACHABLE, 502)
    if profile.get("sub") != verified.get("sub"):
        log.info("e-ID sign-in refused: userinfo is for another subject than the ID token")
        return _failed(REFUSED, 400)
    claims = {**profile, "sub": verified["sub"]}
    session = db.get_session()
    try:
        account = identity.account_from_claims(
            session, issuer=issuer, claims=claims,
            photo=oidc.fetch_photo(claims.get("picture"), issuer),
            national_id_key=flask.current_app.config["NATIONAL_ID_KEY"], now=clock.now())
    except identity.LowerLevel as exc:
        session.rollback()
        return _failed(LOWER_LEVEL, exc.status)
    except IssuerError as exc:
        session.rollback()
        log.info("e-ID sign-in: no account: %s", exc)
        return _failed(ANOTHER_EID if isinstance(exc, Conflict) else NO_ACCOUNT, exc.status)
    next_url = flask.session.get(NEXT_KEY, "/my/")
    auth.sign_in(account=account)
    metrics.signed_in(metrics.RIDER, ok=True)
    return flask.redirect(next_url)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OAuthError):
        return exc.description or exc.error or "refused"
    return f"the ID token is not valid ({type(exc).__name__}: {exc})"


def _failed(message: str, status: int):
    metrics.signed_in(metrics.RIDER, ok=False)
    return flask.render_template("rider/signin_failed.html", message=_(message)), status


@bp.post("/signout")
def logout():
    browser.protect_form()
    auth.sign_out()
    return flask.redirect("/")
