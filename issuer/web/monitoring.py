"""Request ids, the access log and request metrics (Prometheus, at ``GET /metrics``).

Every request is counted by endpoint (the Flask rule, never the raw path: a path holds ids
without end) and status, its duration in a histogram, and written as one access line
(method, rule, path without its query string, status, duration, request id). The request id
is the caller's ``X-Request-Id`` when it is a plain token, else a new one; it is sent back in
the answer's ``X-Request-Id`` and carried by every log line of the request (shared.logs).

Under gunicorn each worker counts in its own files in ``PROMETHEUS_MULTIPROC_DIR``
(issuer/gunicorn_conf.py makes it and removes a dead worker's live values); ``/metrics``
adds them up, so a scrape that reaches any worker sees the whole server.

``/metrics`` is for the monitoring system, not the internet: it needs an operator token of
the role administrator or analyst (``Authorization: Bearer``), and the reverse proxy should
not route it at all (docs/operations.md, Metrics).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

import flask
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)

from issuer.identity import operators
from issuer.platform.errors import Forbidden
from issuer.platform.metrics import MULTIPROC_ENV
from shared import logs
from shared.i18n import N_

REQUEST_ID_HEADER = "X-Request-Id"
# A request id we take from the caller: a short plain token (a UUID, a proxy's hex id), so
# that it can't forge a log line or carry a name.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NO_RULE = "<none>"  # a path no route matches (404): one label value for all of them

access_log = logging.getLogger("issuer.access")

REQUESTS = Counter("vexe_issuer_requests_total", "Requests answered, by endpoint and status.",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("vexe_issuer_request_seconds", "Time to answer a request, by endpoint.",
                    ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20))
RATE_LIMITED = Counter("vexe_issuer_rate_limited_total",
                       "Requests refused by a rate limit (429), by endpoint.", ["endpoint"])


def init_app(app: flask.Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.add_url_rule("/metrics", "metrics", scrape)


def scrape():
    """``GET /metrics``: the Prometheus text format, for an administrator's or analyst's
    token."""
    from issuer.web import auth  # auth -> browser -> limits -> monitoring

    if not auth.caller().has_role(operators.ADMINISTRATOR, operators.ANALYST):  # else 401
        raise Forbidden(N_("metrics need the role administrator or analyst"))
    return flask.Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _registry():
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # every worker's files, added up
    return registry


def request_id(given: str) -> str:
    """The caller's request id when it is a plain token, else a new one."""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _start() -> None:
    request = flask.request
    flask.g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER, ""))
    flask.g.started = time.perf_counter()
    args = request.view_args or {}
    ids = {name: args[name] for name in ("pass_id", "order_id") if name in args}
    flask.g.log_token = logs.bind(request_id=flask.g.request_id, **ids)


def _finish(response: flask.Response) -> flask.Response:
    request = flask.request
    started = flask.g.get("started")
    if started is None:  # a request refused before our before_request ran
        return response
    endpoint = request.url_rule.rule if request.url_rule is not None else NO_RULE
    response.headers[REQUEST_ID_HEADER] = flask.g.request_id
    record(request.method, endpoint, request.path, response.status_code,
           time.perf_counter() - started)
    return response


def record(method: str, endpoint: str, path: str, status: int, took: float) -> None:
    """A request answered: counted, timed and written as its access line (also for the
    answers given in front of Flask: issuer.api.phone_lane)."""
    REQUESTS.labels(method, endpoint, str(status)).inc()
    LATENCY.labels(method, endpoint).observe(took)
    if access_log.isEnabledFor(logging.INFO):  # the line is built only if someone reads it
        path = _printable(path)
        access_log.info("%s %s %s %.1f ms", method, path, status, took * 1000, extra={
            "fields": ("method", "rule", "path", "status", "duration_ms"),
            "method": method, "rule": endpoint, "path": path, "status": status,
            "duration_ms": round(took * 1000, 1)})


def _printable(path: str) -> str:
    """A path as the client sent it, its control characters escaped (a line end in a path
    must not start a forged line of the text log), at most 300 characters."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path[:300])


def _forget(_exc) -> None:
    token = flask.g.pop("log_token", None)
    if token is not None:
        logs.unbind(token)


def rate_limited(_limit) -> None:
    """flask-limiter's ``on_breach``: count the refusal, answer as it would."""
    rule = flask.request.url_rule
    RATE_LIMITED.labels(rule.rule if rule is not None else NO_RULE).inc()


