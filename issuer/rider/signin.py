"""Riders sign in with the national e-ID: ``/signin`` sends the browser to the provider,
``/signin/callback`` comes back with a code, ``/signout`` ends the session."""

from __future__ import annotations

import logging

import flask
import requests
from authlib.integrations.base_client import OAuthError
from joserfc.errors import JoseError

from issuer.web import auth, limits, browser
from issuer.platform import db, metrics
from issuer.identity import eid as identity, oidc
from issuer.platform.errors import IssuerError
from shared import clock

log = logging.getLogger(__name__)

bp = flask.Blueprint("rider_login", __name__)

NEXT_KEY = "signin_next"


@bp.get("/signin")
@limits.sign_in_redirect
def login():
    flask.session[NEXT_KEY] = browser.safe_next(flask.request.args.get("next"), "/my/")
    redirect_uri = flask.url_for("rider_login.callback", _external=True)
    try:
        return oidc.client().authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError) as exc:  # discovery document unreachable
        log.warning("e-ID discovery failed: %s", exc)
        return _failed("Không kết nối được định danh điện tử; thử lại sau.",
                       "The e-ID service cannot be reached; try again later.", 502)


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
        log.info("e-ID sign-in refused: %s", exc)
        return _failed("Đăng nhập không thành công. Vui lòng thử lại.",
                       f"Sign-in failed: {_describe(exc)}", 400)
    except requests.RequestException as exc:
        log.warning("e-ID provider unreachable: %s", exc)
        return _failed("Không kết nối được định danh điện tử; thử lại sau.",
                       "The e-ID service cannot be reached; try again later.", 502)
    if profile.get("sub") != verified.get("sub"):
        return _failed("Đăng nhập không thành công.", "Sign-in failed: userinfo is for "
                       "another subject than the ID token", 400)
    claims = {**profile, "sub": verified["sub"]}
    session = db.get_session()
    try:
        account = identity.account_from_claims(
            session, issuer=issuer, claims=claims,
            photo=oidc.fetch_photo(claims.get("picture"), issuer),
            national_id_key=flask.current_app.config["NATIONAL_ID_KEY"], now=clock.now())
    except identity.LowerLevel as exc:
        session.rollback()
        return _failed(exc.vi, str(exc), exc.status)
    except IssuerError as exc:
        session.rollback()
        return _failed("Không tạo được tài khoản.", str(exc), exc.status)
    next_url = flask.session.get(NEXT_KEY, "/my/")
    auth.sign_in(account=account)
    metrics.signed_in(metrics.RIDER, ok=True)
    return flask.redirect(next_url)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OAuthError):
        return exc.description or exc.error or "refused"
    return f"the ID token is not valid ({type(exc).__name__}: {exc})"


def _failed(vi: str, en: str, status: int):
    metrics.signed_in(metrics.RIDER, ok=False)
    return flask.render_template("rider/signin_failed.html", vi=vi, en=en), status


@bp.post("/signout")
def logout():
    browser.protect_form()
    auth.sign_out()
    return flask.redirect("/")
