"""What the browser side of the issuer needs: the session cookie and CSRF protection.

The cookie and the CSRF tokens are signed with the cookie key (issuer.platform.keyring: Flask's
``SECRET_KEY``; older keys in ``SECRET_KEY_FALLBACKS`` still verify). The cookie is HttpOnly
and SameSite=Lax, and Secure whenever the request came over HTTPS (behind a proxy, run with
``--forwarded-allow-ips`` so that Flask sees it) or ``VEXE_SESSION_COOKIE_SECURE`` is set.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from issuer.web import headers, limits
from issuer.identity import sessions as web_sessions

csrf = CSRFProtect()

# The front-end packages' files (package.json pins them): setup.py copies them here from
# node_modules when the package is built or installed, so a wheel and a checkout serve the same.
VENDOR = Path(__file__).resolve().parents[1] / "static" / "vendor"  # issuer/static/vendor

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app: flask.Flask, request: flask.Request):
        # A phone's API call carries no cookie: an empty session, without building the
        # cookie's signer first (as Flask does for every request).
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return flask.has_request_context() and flask.request.is_secure


def init_app(app: flask.Flask) -> None:
    app.config["SESSION_COOKIE_NAME"] = "vexe_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(seconds=web_sessions.RIDER_LIFETIME)
    # CSRF is checked where a cookie is what authenticates: on every page form, and on API
    # calls made with a session cookie (see issuer.web.auth). Bearer-token calls need none.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # The token is bound to the session, which ends on sign-out; an hour's limit would only
    # fail a clerk who left a form open over lunch.
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    headers.init_app(app)
    limits.init_app(app)


def protect_form() -> None:
    """For a page's before_request: every unsafe request carries the session's CSRF token."""
    if flask.request.method in UNSAFE_METHODS:
        csrf.protect()


def safe_next(target: str | None, default: str) -> str:
    """A redirect target after sign-in: a path on this site only, never another host."""
    if (isinstance(target, str) and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and not any(c in target for c in "\r\n\t")):
        return target
    return default
