"""The passenger screen: a full-screen page the validator serves to the browser beside it.

    GET /                     the page (validator/kiosk/index.html, no third-party code)
    GET /kiosk/state          what the screen shows now, as JSON
    GET /kiosk/events         the same as Server-Sent Events, a new one on every change
    GET /kiosk/sounds/NAME.wav   "accept" and "refuse"

The page needs no network beyond this validator. It shows the route, the stop and the time
when idle; a green or red panel for a few seconds after each scan; whether the validator
can reach Redis and how many trips wait to be sent; that its clock was changed and not yet
checked against Redis; and, while the journal is full or damaged, that the validator is not
accepting tickets, and why.

Its languages are the ``[kiosk] languages`` setting: a bus shows one language (Vietnamese by
default), or two if the city wants (``["vi", "en"]``: Vietnamese large, English below it).
Decisions carry their message in every language (``{"vi": ..., "en": ...}``); the page shows
the screen's own.
"""

from __future__ import annotations

import functools
import html
import json
import time
from pathlib import Path

from babel.messages.extract import extract
from flask import Blueprint, Response, abort, send_from_directory

from shared import i18n
from shared.i18n import N_
from shared.reasons import message, said
from validator.device import STORAGE_REASONS, Validator
from validator.sounds import SOUNDS, wav

PAGE_DIR = Path(__file__).parent / "kiosk"
SCAN_SHOWN_FOR = 4.0  # seconds a decision stays on the screen
KEEPALIVE = 15.0  # seconds between comments on a quiet event stream: finds dead browsers
TICK = 1.0  # seconds between looks at what changes without a scan (sync state, backlog)


def state(validator: Validator, syncer, now: float) -> dict:
    """What the screen shows at Unix time ``now``; ``scan`` is the last one if still shown."""
    out = {"validator": validator.validator_id, "vehicle": validator.vehicle,
           "route": validator.route, "stop": validator.stop, "mode": validator.mode,
           "storage": validator.storage, "online": bool(syncer and syncer.online(now)),
           "backlog": validator.backlog(), "clock": validator.clock.state,
           "scan": None}
    # Why the validator is not accepting tickets, when it is not.
    storage_reason = STORAGE_REASONS.get(out["storage"])
    out["storage_message"] = message(storage_reason) if storage_reason else None
    last = validator.last_scan
    if last is not None:
        number, at, scan = last
        if 0 <= now - at < SCAN_SHOWN_FOR:
            decision = scan.to_dict()
            summary = decision["pass"] or {}
            out["scan"] = {"n": number, "at_ms": int(at * 1000),
                           "decision": decision["decision"], "reason": decision["reason"],
                           "message": decision["message"], "mode": decision["mode"],
                           "product": summary.get("product"),
                           "product_label": product_label(summary)}
    return out


# The fare categories as the issuer names them (its migrations seed them; a test keeps the
# two in step). A category the validator does not know is shown by its code.
CATEGORY_NAMES = {
    "student": ("Học sinh, sinh viên", "Students"),
    "industrial_worker": ("Công nhân khu công nghiệp", "Workers in industrial zones"),
    "elderly": ("Người cao tuổi", "Elderly people"),
    "disability": ("Người khuyết tật", "People with disabilities"),
    "merit": ("Người có công với cách mạng", "People with merit"),
    "child": ("Trẻ em dưới 6 tuổi", "Children under 6"),
}


PRODUCTS = {"single": N_("Monthly pass, one route"), "multi": N_("Monthly pass, all routes"),
            "free": N_("Free pass")}


def product_label(summary: dict) -> dict[str, str] | None:
    """The pass as the rider knows it (the card's words for it), in every language; None if
    unknown."""
    product = summary.get("product")
    if product not in PRODUCTS:
        return None
    label = said(PRODUCTS[product])
    if product == "single":
        routes = ", ".join(summary.get("routes") or [])
        label = {lang: f"{text} · " + i18n.gettext(lang, "Route {code}").replace("{code}", routes)
                 for lang, text in label.items()}
    category = summary.get("category")
    if category:  # a free pass's group, or a reduced fare's
        vi, en = CATEGORY_NAMES.get(category, (category, category))
        names = {"vi": vi, "en": en}
        label = {lang: f"{text} · {names[lang]}" for lang, text in label.items()}
    return label


@functools.cache
def _msgids() -> tuple[str, ...]:
    """Every message the screen's script marks with ``_()`` or ``N_()``."""
    with (PAGE_DIR / "screen.js").open("rb") as handle:
        return tuple(sorted({m for _line, m, _c, _x in extract("javascript", handle)
                             if isinstance(m, str) and m}))


@functools.cache
def page_html(languages: tuple[str, ...]) -> str:
    """The page, with its languages and their words in it (#strings: data, never run)."""
    tables = {}
    for lang in languages:
        if lang != "en":
            table = i18n.translations(lang)
            tables[lang] = {m: table.gettext(m) for m in _msgids()}
    data = json.dumps({"languages": list(languages), "tables": tables}, ensure_ascii=False)
    # Safe inside <script>: no "</" can close it early.
    data = data.replace("<", "\\u003c")
    text = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    text = text.replace('<html lang="vi">', f'<html lang="{html.escape(languages[0])}">', 1)
    title = html.escape(i18n.gettext(languages[0], "Validator"))
    text = text.replace("<title>Máy soát vé</title>", f"<title>{title}</title>", 1)
    start = text.index('<script type="application/json" id="strings">')
    end = text.index("</script>", start)
    return text[:start] + '<script type="application/json" id="strings">' + data + text[end:]


def blueprint(validator: Validator, syncer, languages: tuple[str, ...] = ("vi",)) -> Blueprint:
    bp = Blueprint("kiosk", __name__)
    languages = tuple(languages)

    @bp.get("/")
    def page():
        response = Response(page_html(languages), mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/kiosk/<name>")
    def asset(name: str):
        if name not in ("screen.css", "screen.js"):
            abort(404)
        response = send_from_directory(PAGE_DIR, name)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/kiosk/sounds/<name>.wav")
    def sound(name: str):
        if name not in SOUNDS:
            abort(404)
        return Response(wav(name), mimetype="audio/wav",
                        headers={"Cache-Control": "max-age=86400"})

    @bp.get("/kiosk/state")
    def current():
        now = validator.clock.now()
        return {**state(validator, syncer, now), "now_ms": int(now * 1000)}

    @bp.get("/kiosk/events")
    def events():
        return Response(_stream(validator, syncer), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return bp


def _stream(validator: Validator, syncer):
    """A ``state`` event at once and on every change; a comment when quiet for a while."""
    version = -1
    sent = None
    quiet_since = time.monotonic()
    # Tell the browser to reconnect quickly if the validator restarts.
    yield "retry: 1000\n\n"
    while True:
        version = validator.changes.wait(version, TICK)
        now = validator.clock.now()
        current = state(validator, syncer, now)
        if current != sent:
            sent = current
            quiet_since = time.monotonic()
            payload = json.dumps({**current, "now_ms": int(now * 1000)}, ensure_ascii=False,
                                 separators=(",", ":"))
            yield f"event: state\ndata: {payload}\n\n"
        elif time.monotonic() - quiet_since > KEEPALIVE:
            quiet_since = time.monotonic()
            yield ": still here\n\n"
