"""Security headers on every answer of the issuer.

What a page may load is the Content-Security-Policy below: scripts, styles, images, fetches
and workers from this site only; inline ``<style>`` and ``style=""`` are allowed (the pages
carry their own small styles, and a style cannot run code); inline ``<script>`` code is not,
nor is any event handler attribute except the few whose exact text is hashed in
``INLINE_HANDLERS``. A ``<script type="application/json">`` data block is fine: it is never
run. No page may be framed (clickjacking on the console's buttons).

A small after_request rather than a library: the one for Flask has had no release since
2023, and these are six headers.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

import flask

# Event handler attributes the templates use, by their exact text; a handler not listed
# here does nothing in a browser. Prefer a script file for anything new.
INLINE_HANDLERS = (
    "window.print()",  # console/receipt.html: the print button
    "this.remove()",  # rider/home.html: a photo that fails to load
)

HSTS_SECONDS = 365 * 86400


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-hashes' " + " ".join(_hash(h) for h in INLINE_HANDLERS),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "Referrer-Policy": "same-origin",  # pass ids in URLs stay on this site
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def allow_form_to(response: flask.Response, url: str) -> flask.Response:
    """The page's policy, with its forms also allowed to lead to ``url``'s origin: a Pay
    button whose answer redirects to the payment gateway (Chromium applies form-action to
    the redirect too)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}")
    return response


_HSTS = ("Strict-Transport-Security", f"max-age={HSTS_SECONDS}; includeSubDomains")


def for_answer(secure: bool) -> list[tuple[str, str]]:
    """The headers every answer carries, HSTS only over HTTPS: announcing it over plain HTTP
    would lock a test host out of itself."""
    return [*HEADERS.items(), _HSTS] if secure else list(HEADERS.items())


def add_headers(response: flask.Response) -> flask.Response:
    for name, value in for_answer(flask.request.is_secure):
        response.headers.setdefault(name, value)
    return response


def init_app(app: flask.Flask) -> None:
    app.after_request(add_headers)
