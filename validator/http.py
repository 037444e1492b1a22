"""The validator's HTTP interface, for the screen, a camera reader and the bus's own systems.

    GET  /             the passenger screen (validator.screen)
    POST /scan         {"qr": "<QR text>"}  ->  the decision, with the trip id it was journaled as
    POST /position     {"route": "32", "stop": "S17"}  (either; "stop": null between stops), or
                       {"lat": 21.0285, "lon": 105.8048} (a GPS fix; "route" may come with it)
    POST /mode         {"mode": "board"} or {"mode": "alight"}: the driver switches the door
    GET  /status       where the validator is, its journal, how far its sync has got
    GET  /healthz      200 while the journal takes scans and the sync runs, else 503
    GET  /metrics      Prometheus metrics: scans by reason, backlog, sync, clock, lists

Served on 127.0.0.1 by default: it is for programs on the validator itself. Every error is
JSON ``{"error": "..."}`` with a 4xx status, and changes nothing.

A web page is not such a program, even one open in the kiosk's own browser: every request
must name this validator in its Host header (a loopback name or the listen address: a DNS
name an attacker rebinds to 127.0.0.1 is refused), a request sent by a page must come from
the validator's own origin, and every POST must carry the header ``X-Vexe-Client`` (any
value, e.g. the program's name). A page on another origin can send that header only after
a CORS preflight, which is never granted; a form cannot send it at all.
"""

from __future__ import annotations

import ipaddress
import math
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from shared import jsonbody, text
from validator import metrics, screen
from validator.device import MODES, STORAGE_OK, NoStops, Validator
from validator.sync import Syncer

MAX_BODY = 16 * 1024  # a QR text is at most 1000 characters
CLIENT_HEADER = "X-Vexe-Client"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Sent with every answer. The kiosk page loads its script, style and sounds from the
# validator and talks only to it; no other page may frame it, and it tells no one where it is.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; media-src 'self'; connect-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(validator: Validator, syncer: Syncer | None = None, *,
               stop_source: str = "position", service=None, host: str = "127.0.0.1",
               languages: tuple[str, ...] = ("vi",)) -> Flask:
    """The app; ``stop_source="fixed"`` refuses stop changes; ``service`` adds its health;
    ``host`` is the address it listens on (which Host headers name it); ``languages``, the
    passenger screen's."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.ensure_ascii = False  # the screen messages are Vietnamese
    app.register_blueprint(screen.blueprint(validator, syncer, languages))

    @app.before_request
    def door():
        if not _names_this_validator(request.host, host):
            return _error(403, f"Host {request.host!r} is not this validator")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"http://{request.host}":
            return _error(403, "requests from other origins are refused")
        if request.method not in SAFE_METHODS and not request.headers.get(CLIENT_HEADER):
            return _error(403, f"a {request.method} needs the header {CLIENT_HEADER}, naming "
                               "the program that sends it")
        return None

    @app.after_request
    def page_headers(response):
        response.headers.update(PAGE_HEADERS)
        return response

    @app.post("/scan")
    def scan():
        body = _json_body()
        if "qr" not in body:
            return _error(400, "body has no \"qr\" field")
        if not isinstance(body["qr"], str):
            return _error(400, "\"qr\" must be a string")
        return jsonify(validator.scan(body["qr"], validator.clock.now()).to_dict())

    @app.post("/position")
    def position():
        # The vehicle's own systems say when it changes route or reaches a stop, or where
        # it is (a GPS fix: validator.locate finds the stop).
        body = _json_body()
        if not body.keys() & {"route", "stop", "lat", "lon"}:
            return _error(400, "body must be a JSON object with \"route\" and/or \"stop\", "
                               "or \"lat\" and \"lon\"")
        unknown = body.keys() - {"route", "stop", "lat", "lon"}
        if unknown:
            return _error(400, f"unknown field {sorted(unknown)[0]!r}; only \"route\", "
                               "\"stop\", \"lat\" and \"lon\"")
        fix = body.keys() & {"lat", "lon"}
        if fix and "stop" in body:
            return _error(400, "either a \"stop\" or a position (\"lat\", \"lon\"), not both")
        if fix and fix != {"lat", "lon"}:
            return _error(400, "a position needs both \"lat\" and \"lon\"")
        route = body.get("route", validator.route)
        # Checked before it is kept: every trip carries it to SQLite, Redis and SQL.
        problem = text.name_problem(route)
        if problem:
            return _error(400, f"\"route\" {problem}")
        if fix:
            return _locate(route, body["lat"], body["lon"])
        stop = body.get("stop", validator.stop)
        problem = None if stop is None else text.name_problem(stop)
        if problem:
            return _error(400, f"\"stop\" {problem} (or null between stops)")
        if stop_source == "fixed" and stop != validator.stop:
            return _error(409, "this validator's stop is fixed by its configuration "
                               "(stop_source = \"fixed\")")
        validator.set_position(route, stop)
        return jsonify(_where())

    def _locate(route, lat, lon):
        for name, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
            problem = coordinate_problem(value, limit)
            if problem:
                return _error(400, f"\"{name}\" {problem}")
        if stop_source == "fixed":
            return _error(409, "this validator's stop is fixed by its configuration "
                               "(stop_source = \"fixed\")")
        try:
            located = validator.locate(float(lat), float(lon), route)
        except NoStops as exc:
            return _error(409, str(exc))
        return jsonify({**_where(), "located": {"stop": located.stop,
                                                "direction": located.direction,
                                                "distance_m": located.distance}})

    def _where():
        return {"route": validator.route, "stop": validator.stop, "stop_by": validator.stop_by}

    @app.post("/mode")
    def mode():
        body = _json_body()
        if "mode" not in body:
            return _error(400, "body must be a JSON object like {\"mode\": \"alight\"}")
        if len(body) != 1:
            return _error(400, "only \"mode\" may be set here")
        if body["mode"] not in MODES:
            return _error(400, f"\"mode\" must be {' or '.join(map(repr, MODES))}")
        validator.set_mode(body["mode"])
        return jsonify({"mode": validator.mode})

    @app.get("/status")
    def status():
        now = validator.clock.now()
        out = validator.status()
        if syncer is not None:
            out.update(syncer.status())
            out["online"] = syncer.online(now)
        else:
            out.update({"last_push_at": None, "last_pull_at": None,
                        "last_error": "sync is off", "online": False})
        camera = getattr(service, "camera", None)
        if camera is not None:
            out["camera"] = vars(camera.stats)
        gps = getattr(service, "gps", None)
        if gps is not None:
            out["gps"] = vars(gps.stats)
        return jsonify(out)

    @app.get("/healthz")
    def healthz():
        if service is not None:
            health = service.health(validator.clock.now())
        else:
            health = {"ok": validator.storage == STORAGE_OK, "storage": validator.storage}
        return jsonify(health), 200 if health["ok"] else 503

    registry = metrics.registry(validator, syncer)

    @app.get("/metrics")
    def prometheus():
        # Behind the same door as the rest: a scraper on the bus's network names the
        # validator's address in its Host header (listen on it with --http-host).
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(jsonbody.BodyError)
    def bad_body(exc: jsonbody.BodyError):
        return _error(400, str(exc))

    return app


def _names_this_validator(host_header: str, listen: str) -> bool:
    """True if a Host header names the validator: a loopback name, its listen address, or,
    when it listens on every interface, any IP address. Never a DNS name of someone else's
    (DNS rebinding points such a name at 127.0.0.1 to read the validator from a web page)."""
    try:
        name = urlsplit(f"//{host_header}").hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return False
    if name is None:
        return False
    if name in LOOPBACK_NAMES or name == listen.lower().strip("[]"):
        return True
    if listen in ANY_ADDRESS:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
    return False


def coordinate_problem(value, limit: int) -> str | None:
    """Why ``value`` is not a latitude (``limit`` 90) or longitude (180), as the end of a
    sentence; None if it is one. JSON's reader lets NaN and Infinity through: refused."""
    if type(value) not in (int, float):  # a bool is an int to Python, not to us
        return "must be a number of degrees"
    # (isfinite of a huge int overflows: the range is checked first, and holds no NaN)
    if not -limit <= value <= limit or not math.isfinite(value):
        return f"must be a finite number of degrees from -{limit} to {limit}"
    return None


def _json_body() -> dict:
    """The request's JSON object, read as the issuer reads its bodies (shared.jsonbody): a
    body that is not JSON, not an object, or holds text no journal or database keeps (NUL,
    lone surrogates) is a 400 with the reason. Read whatever the Content-Type says: a reader
    that forgets it still gets an answer."""
    return jsonbody.read(request.get_data(cache=True), dict)


def _error(status: int, message: str):
    return jsonify({"error": message}), status
