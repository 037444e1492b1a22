"""The issuer as an OpenID Connect client of the national e-ID (Authlib).

Authorization code flow with PKCE (S256), ``state`` and ``nonce`` kept in the signed session
cookie; the ID token's signature (the provider's JWKS), issuer, audience, expiry and nonce
are checked by Authlib before any claim is used. The provider is configuration:
``VEXE_OIDC_ISSUER``, ``VEXE_OIDC_CLIENT_ID``, ``VEXE_OIDC_CLIENT_SECRET``.

The provider is reached over HTTPS: over plain HTTP whoever sits on the path reads the client
secret and the codes, and answers as the provider, for any citizen. Plain HTTP is taken only
on this machine's loopback (the development provider on a laptop), and the issuer refuses
to start otherwise.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import flask
import requests
from authlib.integrations.flask_client import OAuth

from issuer.platform.errors import NotReady
from shared.i18n import N_

NAME = "eid"
SCOPE = "openid profile national_id"
TIMEOUT = 10  # seconds for each call to the provider
PHOTO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def init_app(app: flask.Flask) -> None:
    # One registry per app: tests run several issuers, each with its own provider.
    oauth = OAuth(app)
    if app.config.get("OIDC_ISSUER"):
        issuer = check_issuer(app.config["OIDC_ISSUER"]).rstrip("/")
        oauth.register(NAME, client_id=app.config["OIDC_CLIENT_ID"],
                       client_secret=app.config["OIDC_CLIENT_SECRET"],
                       server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                       client_kwargs={"scope": SCOPE, "code_challenge_method": "S256",
                                      "timeout": TIMEOUT})
    app.extensions["vexe_oauth"] = oauth


def check_issuer(url: str) -> str:
    """``url`` if it is an HTTPS URL, or plain HTTP on a loopback address; else NotReady."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url
    raise NotReady(N_("OIDC_ISSUER must be an https:// URL (plain http only on 127.0.0.1, ::1 "
                      "or localhost), got %(url)s: over plain HTTP anyone on the path could "
                      "answer as the e-ID provider, for any citizen"), url=repr(url))


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client():
    config = flask.current_app.config
    if not (config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID")):
        raise NotReady(N_("e-ID sign-in is not configured: set VEXE_OIDC_ISSUER, "
                          "VEXE_OIDC_CLIENT_ID and VEXE_OIDC_CLIENT_SECRET"))
    return flask.current_app.extensions["vexe_oauth"].create_client(NAME)


def id_token_checks(issuer: str) -> dict:
    """The claims an ID token must carry and their values, beyond Authlib's own checks of the
    signature, nonce, expiry and authorized party: the configured issuer (not merely the one
    the discovery document names) and this client in the audience."""
    return {"iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "values": [flask.current_app.config["OIDC_CLIENT_ID"]]},
            "exp": {"essential": True}, "sub": {"essential": True}}


def fetch_photo(url: object, issuer: str) -> bytes | None:
    """The portrait at ``url`` if the provider itself serves it (no fetching of whatever a
    claim points at), small, and really a PNG or JPEG; otherwise None."""
    if not isinstance(url, str):
        return None
    own, there = urlsplit(issuer), urlsplit(url)
    if (there.scheme, there.netloc) != (own.scheme, own.netloc):
        return None
    try:
        with requests.get(url, timeout=TIMEOUT, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                return None
            data = response.raw.read(MAX_PHOTO + 1, decode_content=True)
    except requests.RequestException:
        return None
    if len(data) > MAX_PHOTO or not any(data.startswith(m) for m in PHOTO_TYPES.values()):
        return None
    return data


MAX_PHOTO = 512 * 1024
