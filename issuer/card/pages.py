"""``/card/``: the card page, its service worker and manifest, the QR encoder from npm, and
the time the phone checks its clock against."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import flask
from babel.messages.extract import extract
from flask_babel import gettext
from werkzeug.security import safe_join

from issuer.web import browser, language
from shared import clock, i18n, ticket

# The card's files are served by the route below, not Flask's static folder: see _file.
bp = flask.Blueprint("card", __name__, url_prefix="/card", template_folder="templates")

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
         ".png": "image/png"}
VENDOR = {"qrcode-generator.mjs": browser.VENDOR / "qrcode-generator.mjs"}

# The phone asks for a new credential when the one it holds is older than this and the
# network is there: often enough that a day offline never starts with an old one, rarely
# enough that a rider opening the card at every stop costs the issuer little.
REFRESH_AFTER = 15 * 60

# Only this origin's own files: the page has no inline script or style to allow.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@functools.cache
def _assets() -> tuple[str, list[str]]:
    """The shell's files and a version that changes with any of them, for the worker's cache."""
    files = sorted(p for p in STATIC.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    urls = []
    for path in files:
        name = path.relative_to(STATIC).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes())
        urls.append(f"{bp.url_prefix}/static/{name}")
    for name, path in sorted(VENDOR.items()):
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b""))
        urls.append(f"{bp.url_prefix}/vendor/{name}")
    digest.update((STATIC.parent / "templates" / "card" / "page.html").read_bytes())
    return digest.hexdigest()[:16], urls


@functools.cache
def _msgids() -> tuple[str, ...]:
    """Every message the card's scripts mark with ``_()`` or ``N_()``."""
    found = set()
    for path in sorted(STATIC.rglob("*.js")):
        with path.open("rb") as handle:
            for _line, message, _comments, _context in extract("javascript", handle):
                if isinstance(message, str) and message:
                    found.add(message)
    return tuple(sorted(found))


def _reason_words() -> dict[str, dict[str, str]]:
    """Why a pass was revoked and what to do, per code: the issuer's one list of reasons."""
    from issuer.passes import revocation

    return {code: {"rider": r.rider, "todo": r.todo} for code, r in revocation.REASONS.items()}


@functools.cache
def strings() -> dict[str, dict[str, str]]:
    """The card's words in every language but English (the messages are English), for the
    page to carry: the card switches language without a reload and works offline, so it
    holds both. Read from the same catalogues as the pages (a message the card shares with
    them is translated once, wherever it is)."""
    out = {}
    for code in i18n.LANGUAGES:
        if code == "en":
            continue
        table = i18n.translations(code)
        messages = set(_msgids()) | {w for r in _reason_words().values() for w in r.values()}
        out[code] = {m: table.gettext(m) for m in sorted(messages) if table.gettext(m) != m}
    # The English of each revocation reason's words, by code (the tables above translate them).
    out["reasons"] = _reason_words()
    return out


def _secured(response: flask.Response, *, cache: str = "no-cache") -> flask.Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = cache
    return response


@bp.get("/")
def page():
    """The shell. It carries no personal data but the session's CSRF token: the script
    fetches the rest, so the same shell serves offline from the worker's cache."""
    config = flask.current_app.config
    html = flask.render_template(
        "card/page.html", rotation=config["CARD_ROTATION"], freshness=ticket.DEFAULT_FRESHNESS,
        refresh_after=REFRESH_AFTER, version=_assets()[0], strings=strings(),
        hotline=config.get("HOTLINE", ""))
    return _secured(flask.make_response(html), cache="no-cache, private")


@bp.get("/sw.js")
def service_worker():
    version, urls = _assets()
    body = flask.render_template("card/sw.js", version=version,
                                 shell=[flask.url_for("card.page")] + urls)
    response = flask.make_response(body)
    response.content_type = "text/javascript; charset=utf-8"
    return _secured(response)


@bp.get("/manifest.webmanifest")
def manifest():
    # In the language of the browser that installs the card (the cookie, else its languages).
    response = flask.jsonify({
        "name": gettext("Hanoi bus pass"), "short_name": gettext("Bus pass"),
        "lang": language.current(),
        "description": gettext("Monthly and free bus passes, with a QR code"),
        "start_url": flask.url_for("card.page"), "scope": flask.url_for("card.page"),
        "display": "standalone", "orientation": "portrait",
        "background_color": "#ffffff", "theme_color": "#0b5d3b",
        "icons": [{"src": flask.url_for("card.static", filename=f"icon-{size}.png"),
                   "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any"}
                  for size in (192, 512)]})
    response.content_type = "application/manifest+json"
    return response


def favicon():
    """``/favicon.ico``: the card's icon, from memory (browsers ask for it by themselves and
    often drop the answer half read: no file is left open behind it)."""
    response = flask.Response(_icon(), mimetype="image/png")
    response.cache_control.max_age = 86400
    return response


@functools.cache
def _icon() -> bytes:
    return (STATIC / "icon-192.png").read_bytes()


@bp.get("/static/<path:filename>")
def static(filename: str):
    path = safe_join(str(STATIC), filename)
    if path is None or not Path(path).is_file():
        flask.abort(404)
    return _file(Path(path))


@bp.get("/vendor/<name>")
def vendor(name: str):
    path = VENDOR.get(name)
    if path is None or not path.exists():
        flask.abort(404, f"front-end file missing from {browser.VENDOR}: run `make install`")
    return _file(path)


def _file(path: Path) -> flask.Response:
    """A small file, read whole: no file stays open behind a phone that drops the
    connection mid-answer (a bus going into a tunnel). Revalidated by ETag; offline, the
    service worker has its own copy."""
    response = flask.Response(path.read_bytes(), mimetype=TYPES.get(path.suffix,
                                                                    "application/octet-stream"))
    response.cache_control.no_cache = True
    response.add_etag()
    return response.make_conditional(flask.request)


@bp.get("/time")
def time_now():
    """The issuer's clock, for the phone to check its own against (validators keep theirs
    by NTP, so a phone far off makes QRs every validator refuses)."""
    response = flask.jsonify(now=clock.now())
    response.cache_control.no_store = True
    return response
