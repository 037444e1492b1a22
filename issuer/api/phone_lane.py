"""The two requests phones make most, answered in front of Flask's request machinery.

A phone refreshes its credential (``POST /api/passes/<pass_id>/credential``) and looks at its
pass (``GET /api/passes/<pass_id>``): with a whole city's phones these are most of what
reaches the issuer. Each is one statement on PostgreSQL (:mod:`issuer.passes.refresh`,
:mod:`issuer.passes.shown`), and once they were, most of their cost was Flask's: the request
context, the before and after hooks, the response object. This WSGI layer sits between the
proxy's headers (ProxyFix) and Flask. It takes only a request of exactly the shape a phone
sends: one of those two paths with a plain pass id, no query, a bearer token, an empty body
(``{}`` for the refresh), on PostgreSQL. It runs the statement and answers 200 itself when
the answer is the plain one: for the refresh, a credential recorded and nothing more to say
(no next month's pass on the same phone); for the pass, the rider's own pass found.

Everything else goes on to Flask, which answers it as it always has: another shape of
request, any refusal (401, 403, 404, 409, 429), a credential with next month's beside it,
an error. When the lane has run the refresh's statement, Flask's view takes its outcome
(:func:`outcome_for`) rather than running it again: a refresh is counted once on its pass.
(The pass's statement only reads: Flask's view reads again in its own way.)

What the lane's 200 carries is what Flask's would: the same JSON (Flask's own encoder
settings), the security headers and ``Vary`` of the app's after-request hooks
(:func:`issuer.web.headers.for_answer`, :data:`issuer.web.language.VARY`), the request id;
it is counted in the same metrics and written as the same access line
(:func:`issuer.web.monitoring.record`). ``tests/issuer/test_phone_lane.py`` compares the
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
from issuer.passes import custodial_qr, phones, shown
from issuer.passes import refresh as refresh_sql
from issuer.platform import db
from issuer.web import auth, headers, language, limits, monitoring
from shared import clock, jsonbody, logs

REFRESH, SHOW, QR = "passes.refresh", "passes.show", "passes.show_qr"
# What the lane leaves in the WSGI environ for Flask's view: the refresh statement's answer.
RAN = "vexe.phone_lane"
# A pass id as the issuer makes them; anything else (a NUL, a slash, a long string) is for
# Flask to refuse in its usual words.
_PASS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Ran:
    """The statement's answer, or the error it raised (Flask's view raises it again, so
    that the 500 is answered and logged as every other)."""

    outcome: refresh_sql.Outcome | custodial_qr.Outcome | None = None
    error: BaseException | None = None


def outcome_for(environ: dict):
    """What the lane's statement answered for this request; None if the lane did not run it."""
    ran = environ.get(RAN)
    if ran is None:
        return None
    if ran.error is not None:
        raise ran.error
    return ran.outcome


class _Rule:
    """A route's rule, split around its ``<pass_id>``."""

    def __init__(self, app: flask.Flask, endpoint: str):
        self.rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint).rule
        self.prefix, _, self.suffix = self.rule.partition("<pass_id>")

    def pass_id(self, path: str) -> str | None:
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return None
        pass_id = path[len(self.prefix):len(path) - len(self.suffix)]
        return pass_id if _PASS_ID.fullmatch(pass_id) else None


class PhoneLane:
    """WSGI middleware: ``app.wsgi_app = PhoneLane(app.wsgi_app, app)``."""

    def __init__(self, wsgi_app, app: flask.Flask):
        self.wsgi_app = wsgi_app
        config = app.config
        self.url = config["DATABASE_URL"]
        self.on = self.url.startswith("postgresql")
        self.lifetime = config["CREDENTIAL_LIFETIME"]
        self.sealing_key = config["SEALING_KEY"]
        self.max_body = config["MAX_CONTENT_LENGTH"]
        self.json = app.json
        # Per method, the rules the lane answers and how: each gives the answer's body and
        # its own headers, or None for Flask to answer.
        self.rules = {"POST": [(_Rule(app, REFRESH), self._refresh)],
                      "GET": [(_Rule(app, QR), self._qr), (_Rule(app, SHOW), self._show)]}

    def __call__(self, environ: dict, start_response):
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        rules = self.rules.get(method, []) if self.on and not environ.get("QUERY_STRING") else []
        rule, answer, pass_id = next(((rule, answer, pass_id) for rule, answer in rules
                                      if (pass_id := rule.pass_id(path))), (None, None, None))
        token = auth.bearer_of(environ.get("HTTP_AUTHORIZATION", "")) if pass_id else None
        if token is None or not self._body_as_expected(environ, method):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = monitoring.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        log_token = logs.bind(request_id=request_id, pass_id=pass_id)
        try:
            answered = answer(environ, pass_id, token)
            if answered is None:  # Flask answers, with what the statement found if it ran
                return self.wsgi_app(environ, start_response)
            body, own = answered
            start_response("200 OK", [
                *own, ("Content-Length", str(len(body))),
                *headers.for_answer(environ.get("wsgi.url_scheme") == "https"),
                ("Vary", language.VARY), (monitoring.REQUEST_ID_HEADER, request_id)])
            monitoring.record(method, rule.rule, environ.get("PATH_INFO", ""), 200,
                              time.perf_counter() - started)
            return [body]
        finally:
            logs.unbind(log_token)

    def _json(self, answer: dict) -> tuple[bytes, list]:
        # As Flask's DefaultJSONProvider.response writes it when not debugging.
        body = f"{self.json.dumps(answer, separators=(',', ':'))}\n".encode()
        return body, [("Content-Type", "application/json")]

    def _show(self, environ: dict, pass_id: str, token: str):
        """The rider's own pass. The statement only reads, so anything else (no such pass of
        hers, an error) is Flask's to answer afresh, in its usual words and logs."""
        try:
            answer = db.retry_dropped(self.url,
                                      lambda conn: shown.own_pass(conn, pass_id, token))
        except Exception:  # noqa: BLE001 (Flask's view meets it again and answers it)
            return None
        return None if answer is None else self._json(answer)

    def _qr(self, environ: dict, pass_id: str, token: str):
        """A custodial pass's QR text, counted on the pass, from the credential stored with
        its binding; None with what the statement found when Flask is to answer."""
        at = clock.now()
        try:
            outcome = db.retry_dropped(self.url, lambda conn: custodial_qr.run(
                conn, pass_id, token, spacing_ms=limits.CREDENTIAL_SPACING_MS,
                burst_ms=limits.CREDENTIAL_BURST_MS))
            environ[RAN] = Ran(outcome=outcome)
            text = outcome.counted and phones.qr_from_stored(
                outcome.row, at=at, sealing_key=self.sealing_key, lifetime=self.lifetime,
                kid=outcome.row.kid)
        except Exception as exc:  # noqa: BLE001 (Flask's view raises it: the usual 500 or 503)
            environ[RAN] = Ran(error=exc)
            return None
        if not text:
            return None
        # As the view answers: a proof lives seconds, never serve a stale one.
        return text.encode(), [("Content-Type", "text/plain; charset=utf-8"),
                               ("Cache-Control", "no-store")]

    def _refresh(self, environ: dict, pass_id: str, token: str):
        """The statement, and the credential signed: the answer, or None with what the
        statement found left for Flask."""
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
        return None if issued is None else self._json(issued.as_dict())  # None: key retired

    def _body_as_expected(self, environ: dict, method: str) -> bool:
        """A GET sends no body; a refresh nothing or ``{}`` (read, then put back for Flask
        to read again)."""
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return False  # chunked: Flask reads it
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        if method == "GET" or not 0 <= length <= self.max_body:
            return length == 0
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
