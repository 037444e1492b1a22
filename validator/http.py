"""The validator's HTTP interface, for a camera-based reader or a screen on the same device.

    POST /scan      {"qr": "<QR text>"}  ->  the decision, with the trip id it was journaled as
    POST /position  {"route": "32", "stop": "S17"}  (either; "stop": null when between stops)
    GET /status     where the validator is and how far its sync has got
    GET /healthz

Served on 127.0.0.1 by default: it is for programs on the validator itself.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from shared import clock
from validator.device import Validator
from validator.sync import Syncer

MAX_BODY = 16 * 1024  # a QR text is at most 1000 characters


def create_app(validator: Validator, syncer: Syncer | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.ensure_ascii = False  # the screen messages are Vietnamese

    @app.post("/scan")
    def scan():
        # force: a reader that forgets the Content-Type still gets an answer; silent: a
        # body that is not JSON is our 400, not Flask's HTML page.
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object like {\"qr\": \"VX1:...\"}")
        if "qr" not in body:
            return _error(400, "body has no \"qr\" field")
        if not isinstance(body["qr"], str):
            return _error(400, "\"qr\" must be a string")
        return jsonify(validator.scan(body["qr"], clock.now()).to_dict())

    @app.post("/position")
    def position():
        # The vehicle's own systems say when it changes route or reaches a stop.
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not body.keys() & {"route", "stop"}:
            return _error(400, "body must be a JSON object with \"route\" and/or \"stop\"")
        route = body.get("route", validator.route)
        stop = body.get("stop", validator.stop)
        if not isinstance(route, str) or not route:
            return _error(400, "\"route\" must be a non-empty string")
        if stop is not None and not isinstance(stop, str):
            return _error(400, "\"stop\" must be a string or null")
        validator.set_route(route)
        validator.set_stop(stop)
        return jsonify({"route": validator.route, "stop": validator.stop})

    @app.get("/status")
    def status():
        out = validator.status()
        out.update(syncer.status() if syncer else
                   {"last_push_at": None, "last_pull_at": None, "last_error": "sync is off"})
        return jsonify(out)

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)

    return app


def _error(status: int, message: str):
    return jsonify({"error": message}), status
