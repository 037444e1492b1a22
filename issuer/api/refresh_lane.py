"""A phone's credential refresh, answered in front of Flask's request machinery.

The refresh is the issuer's busiest request by far (every phone, every few hours, the whole
city), and once it became one statement (:mod:`issuer.passes.refresh`) most of its cost was
Flask's: the request context, the before and after hooks, the response object. This WSGI
layer sits between the proxy's headers (ProxyFix) and Flask. It takes only a request of
exactly the shape a phone sends: ``POST /api/passes/<pass_id>/credential``, no query, a
bearer token, an empty JSON body, on PostgreSQL. It runs the one statement and, when that
recorded a credential and there is nothing more to say (no next month's pass on the same
phone), signs it and answers 200 itself.

Everything else goes on to Flask, which answers it as it always has: another shape of
request, any refusal (401, 403, 404, 409, 429), a credential with next month's beside it,
an error. When the lane has run the statement, Flask's view takes its outcome
(:func:`outcome_for`) rather than running it again: a refresh is counted once on its pass.

What the lane's 200 carries is what Flask's would: the same JSON (Flask's own encoder
settings), the security headers and ``Vary`` of the app's after-request hooks
(:func:`issuer.web.headers.for_answer`, :data:`issuer.web.language.VARY`), the request id;
it is counted in the same metrics and written as the same access line
(:func:`issuer.web.monitoring.record`). ``tests/issuer/test_refresh_lane.py`` compares the
two answers header by header.
"""

from __future__ import annotations

import io
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass

import flask

from issuer.api import shapes
from issuer.passes import phones
from issuer.passes import refresh as refresh_sql
from issuer.platform import db
from issuer.web import auth, headers, language, limits, monitoring
from shared import clock, jsonbody, logs

ENDPOINT = "passes.refresh"
# What the lane leaves in the WSGI environ for Flask's view: the statement's answer.
RAN = "vexe.refresh_lane"
# A pass id as the issuer makes them; anything else (a NUL, a slash, a long string) is for
# Flask to refuse in its usual words.
_PASS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Ran:
    """The statement's answer, or the error it raised (Flask's view raises it again, so
    that the 500 is answered and logged as every other)."""

    outcome: refresh_sql.Outcome | None = None
    error: BaseException | None = None


def outcome_for(environ: dict) -> refresh_sql.Outcome | None:
    """What the lane's statement answered for this request; None if the lane did not run it."""
    ran = environ.get(RAN)
    if ran is None:
        return None
    if ran.error is not None:
        raise ran.error
    return ran.outcome


class RefreshLane:
    """WSGI middleware: ``app.wsgi_app = RefreshLane(app.wsgi_app, app)``."""

    def __init__(self, wsgi_app, app: flask.Flask):
        self.wsgi_app = wsgi_app
        config = app.config
        self.url = config["DATABASE_URL"]
        self.on = self.url.startswith("postgresql")
        self.lifetime = config["CREDENTIAL_LIFETIME"]
        self.sealing_key = config["SEALING_KEY"]
        self.max_body = config["MAX_CONTENT_LENGTH"]
        self.json = app.json
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == ENDPOINT)
        self.rule = rule.rule
        self.prefix, _, self.suffix = rule.rule.partition("<pass_id>")

    def __call__(self, environ: dict, start_response):
        pass_id = self._pass_id(environ) if self.on else None
        token = auth.bearer_of(environ.get("HTTP_AUTHORIZATION", "")) if pass_id else None
        if token is None or not self._empty_body(environ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = monitoring.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        log_token = logs.bind(request_id=request_id, pass_id=pass_id)
        try:
            body = self._refresh(environ, pass_id, token)
            if body is None:  # Flask answers, with what the statement found
                return self.wsgi_app(environ, start_response)
            status = 200
            answer = [("Content-Type", "application/json"),
                      ("Content-Length", str(len(body))),
                      *headers.for_answer(environ.get("wsgi.url_scheme") == "https"),
                      ("Vary", language.VARY),
                      (monitoring.REQUEST_ID_HEADER, request_id)]
            start_response("200 OK", answer)
            monitoring.record("POST", self.rule, environ.get("PATH_INFO", ""), status,
                              time.perf_counter() - started)
            return [body]
        finally:
            logs.unbind(log_token)

    def _refresh(self, environ: dict, pass_id: str, token: str) -> bytes | None:
        """The statement, and the credential signed: the answer's body, or None with what
        the statement found left for Flask."""
        now = int(clock.now())
        try:
            outcome = db.retry_dropped(self.url, lambda conn: refresh_sql.run(
                conn, pass_id, token, now=now, lifetime=self.lifetime,
                spacing_ms=limits.CREDENTIAL_SPACING_MS, burst_ms=limits.CREDENTIAL_BURST_MS))
            environ[RAN] = Ran(outcome=outcome)
            if outcome.jti is None or outcome.row.next_pass_id is not None:
                return None
            with ExitStack() as opened:
                issued = phones.mint_recorded(
                    lambda: opened.enter_context(db.session(self.url)), outcome.row, now=now,
                    lifetime=self.lifetime, sealing_key=self.sealing_key)
        except Exception as exc:  # noqa: BLE001 (Flask's view raises it: the usual 500 or 503)
            environ[RAN] = Ran(error=exc)
            return None
        if issued is None:  # its key was retired since: Flask's general path
            return None
        # As Flask's DefaultJSONProvider.response writes it when not debugging.
        return f"{self.json.dumps(issued.as_dict(), separators=(',', ':'))}\n".encode()

    def _pass_id(self, environ: dict) -> str | None:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
            return None
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return None
        pass_id = path[len(self.prefix):len(path) - len(self.suffix)]
        return pass_id if _PASS_ID.fullmatch(pass_id) else None

    def _empty_body(self, environ: dict) -> bool:
        """The body is nothing or ``{}`` (read, then put back for Flask to read again)."""
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return False  # chunked: Flask reads it
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        if not 0 <= length <= self.max_body:
            return False
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return empty_body(raw)


def empty_body(raw: bytes) -> bool:
    """A refresh's body as the phone sends it: empty, or an empty JSON object."""
    try:
        jsonbody.read(raw, shapes.Empty)
    except jsonbody.BodyError:
        return False  # Flask's view says why, after who is calling
    return True
