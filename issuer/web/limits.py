"""Rate limits on the doors worth hammering: signing in, and minting credentials and QRs.

Counted in Redis (the issuer's ``REDIS_URL``, or ``RATELIMIT_STORAGE_URI``), so every gunicorn
worker and every host shares one count. If Redis is away the count falls back to each
process's memory rather than refusing everyone or letting everyone through; the sign-in
lockout in the database (issuer.console.signin) holds either way.

- Sign-in: failed password attempts per client address. Behind a reverse proxy set
  ``VEXE_TRUSTED_PROXIES`` to the number of proxies in front, so the address is the
  client's, not the proxy's. Operators sign in from depots and counters, a shift at once
  behind one address: a sign-in that succeeds is not counted, so only guessing is slowed.
  Riders come through mobile carriers, where hundreds of phones share one address
  (carrier-grade NAT), so the e-ID redirect and callback (which try no password here: the
  e-ID provider does) have a looser limit.
- Credentials and QRs: per caller, the account or operator the token or session cookie
  belongs to (not the bytes of either: one token spelt thirty ways, or a cookie signed again
  every second, is one caller), so riders behind one mobile carrier's address don't share a
  limit; per address when nobody is signed in, or the token is not valid.
- A phone's credential refresh with a rider's token, on PostgreSQL, is counted per pass by
  its own statement, on the pass row it updates anyway (issuer.passes.refresh), at the same
  rate: the busiest request asks Redis nothing. Any other refresh (a session cookie, a token
  no rider holds, a pass the statement refused, SQLite) is counted here: per bearer token,
  read from the header with no database lookup (a rider holds one token, so per token is per
  rider; a token spelt another way is another string, which no account holds: refused, 401),
  else per caller, as above.

A refusal is a 429 with Retry-After, in JSON for the API and as a page for pages.
"""

from __future__ import annotations

import hashlib
import math
import time

import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from werkzeug.exceptions import HTTPException

from issuer.web import monitoring

SIGN_IN = "10 per minute"  # operators' failed password attempts
E_ID = "60 per minute"  # riders' e-ID sign-ins: two requests each
# A phone refreshes its credential about once a day; the issuer's QR for a rider without a
# key is fetched once per rotation (30 s). A margin for retries over a bad network.
QR = "20 per minute"
CREDENTIAL = "20 per minute"


def caller_key() -> str:
    """Who is asking: the rider's account or the operator, as authenticated for this request
    (the view reuses it); their address when nobody is."""
    from issuer.web import auth  # auth -> web -> limits: imported when first asked

    try:
        who = auth.current_caller()
    except HTTPException:  # a token not valid, a form without its CSRF token: the view says so
        who = None
    if who is None:
        return address_key()
    return "caller:" + who.actor  # "rider:<account id>" or the operator's username


def credential_key() -> str:
    """Per bearer token (its hash: the limiter's keys never hold a token), else per caller."""
    from issuer.web import auth  # auth -> web -> limits: imported when first asked

    token = auth.bearer_token()
    if token is None:
        return caller_key()
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def address_key() -> str:
    return "address:" + get_remote_address()


# One call to the limiter's storage a request: the count. flask-limiter's X-RateLimit-*
# headers would ask the storage again after every answer to fill them in; only a refusal
# carries Retry-After (:func:`_retry_after`), which asks once, when it happens.
limiter = Limiter(key_func=address_key, default_limits=[], headers_enabled=False,
                  key_prefix="vexe:ratelimit", in_memory_fallback_enabled=True,
                  strategy="moving-window", on_breach=monitoring.rate_limited)


def _failed_sign_in(response: flask.Response) -> bool:
    return response.status_code != 302  # a signed-in operator is sent on to the console


sign_in = limiter.limit(SIGN_IN, key_func=address_key, methods=["POST"], scope="sign-in",
                        deduct_when=_failed_sign_in)
sign_in_redirect = limiter.limit(E_ID, key_func=address_key, scope="e-id")
qr = limiter.limit(QR, key_func=caller_key, scope="qr")
credential = limiter.limit(CREDENTIAL, key_func=credential_key, scope="credential")

# The same rate as the refresh's statement counts it (GCRA, issuer.passes.refresh): one
# refresh every SPACING_MS, and up to the limit at once (a burst of the rest of the period).
_credential_rate = parse(CREDENTIAL)
CREDENTIAL_SPACING_MS = _credential_rate.get_expiry() * 1000 // _credential_rate.amount
CREDENTIAL_BURST_MS = _credential_rate.get_expiry() * 1000 - CREDENTIAL_SPACING_MS


def init_app(app: flask.Flask) -> None:
    config = app.config
    config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"])
    config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 1.0,
                                                    "socket_connect_timeout": 1.0})
    limiter.init_app(app)
    # Every limit is on its view (the decorators above), none app-wide: flask-limiter's own
    # before_request pass would resolve each request's limits only to find none there, and
    # the view's decorator resolves them again. One pass a request, the decorator's.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.after_request(_retry_after)


def _retry_after(response: flask.Response) -> flask.Response:
    """A 429 of the limiter says when to come back: when its window lets one more through."""
    if response.status_code != 429 or "Retry-After" in response.headers:
        return response
    seconds = 60
    current = limiter.current_limit
    if current is not None:
        try:
            # The window's own reset time: flask-limiter's ``reset_at`` adds a second and
            # truncates, which says 61 s of a 60 s window when it began less than 1 s ago.
            seconds = max(1, math.ceil(current.window.reset_time - time.time()))
        except Exception:  # noqa: BLE001 (the storage away: its in-memory fallback counts)
            pass
    response.headers["Retry-After"] = str(seconds)
    return response
