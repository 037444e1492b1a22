"""The HTTP API's blueprints, and what they share: reading JSON bodies and answering errors.

Every error is JSON, ``{"error": "..."}``, with a 4xx or 5xx status: never an HTML page,
never a stack trace.
"""

from __future__ import annotations

import logging
from typing import TypeVar

import flask
import sqlalchemy as sa
from werkzeug.exceptions import HTTPException

from issuer.platform.errors import Invalid, IssuerError, Unsaved
from shared import jsonbody

log = logging.getLogger(__name__)
T = TypeVar("T")


def json_body(shape: type[T]) -> T:
    """The request's JSON object as ``shape`` (one of :mod:`issuer.api.shapes`): a 400 with
    the reason when it is not JSON, not text, or not the shape."""
    try:
        return jsonbody.read(flask.request.get_data(cache=True), shape)
    except jsonbody.BodyError as exc:
        raise Invalid(str(exc)) from None


def check_text(value: str, what: str) -> None:
    """Invalid unless ``value`` is UTF-8 text without a NUL character."""
    problem = jsonbody.text_problem(value)
    if problem:
        raise Invalid(f"{what} is not text: {problem}")


def check_request_text() -> None:
    """For every request, before its view: the query, the form and the path's parts are text
    (a NUL is spelt %00 in any of them; werkzeug replaces bytes that are not UTF-8)."""
    request = flask.request
    for kind, items in (("query parameter", request.args.items(multi=True)),
                        ("path part", (request.view_args or {}).items()),
                        ("form field", request.form.items(multi=True)
                         if request.mimetype in FORM_TYPES else ())):
        for name, value in items:
            check_text(name, f"{kind} name")
            if isinstance(value, str):
                check_text(value, f"{kind} {name!r}")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


DATABASE_RETRY_AFTER = 5  # seconds: a database restart takes about this long

# Paths of the pages people read; everything else answers errors in JSON.
PAGE_PREFIXES = ("/console", "/my", "/signin", "/signout", "/pay")

ERROR_TITLES = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Cần đăng nhập", "Sign-in needed"),
    403: ("Không có quyền", "Not allowed"),
    404: ("Không tìm thấy", "Not found"),
    409: ("Không thực hiện được", "Not possible now"),
    429: ("Quá nhiều yêu cầu", "Too many requests"),
}


def is_page_request() -> bool:
    path = flask.request.path
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def error_response(status: int, message: str) -> flask.Response:
    if is_page_request():
        title_vi, title_en = ERROR_TITLES.get(status, ("Lỗi", "Error"))
        body = flask.render_template("error.html", status=status, title_vi=title_vi,
                                     title_en=title_en, message=message)
        return flask.make_response(body, status)
    response = flask.jsonify(error=message)
    response.status_code = status
    return response


def register_error_handlers(app: flask.Flask) -> None:
    app.before_request(check_request_text)

    @app.errorhandler(IssuerError)
    def issuer_error(exc: IssuerError):
        return error_response(exc.status, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Keep the status and headers (WWW-Authenticate, Allow); replace the body.
        response = exc.get_response()
        own = error_response(exc.code or 500, exc.description)
        response.set_data(own.get_data())
        response.content_type = own.content_type
        return response

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def database_down(exc: sa.exc.DBAPIError):
        # The database restarting or unreachable: the pool reconnects by itself (a closed
        # connection is seen at checkout: issuer.platform.db),
        # so the client is told when to come back rather than shown a failure.
        log.error("database error: %s", str(exc.orig).strip().splitlines()[0] if exc.orig
                  else exc)
        response = error_response(503, "the database is unavailable; try again shortly")
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(Unsaved)
    def action_unsaved(exc: Unsaved):
        # The database failed inside an operator's action: the answer says whether it stands.
        log.error("database error during an action (saved: %s): %s", exc.saved, exc.__cause__)
        response = error_response(503, str(exc))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(sa.exc.IntegrityError)
    def integrity_error(exc: sa.exc.IntegrityError):
        # Two requests raced for one thing (two devices bound at once, one id twice).
        log.warning("integrity error: %s", exc.orig)
        return error_response(409, "a concurrent change conflicted with this request; retry")

    @app.errorhandler(sa.exc.DataError)
    def data_error(exc: sa.exc.DataError):
        # A value the database cannot hold, from the request (a NUL character, which
        # PostgreSQL text refuses; a number past a column's range): the client's to fix.
        log.warning("data error: %s", exc.orig)
        session = flask.g.get("db")
        if session is not None:
            session.rollback()
        return error_response(400, "a value in the request is not one the issuer can store "
                                   "or look up (a NUL character, or a number out of range)")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", flask.request.method, flask.request.path)
        return error_response(500, "internal error; it has been logged")


def blueprints() -> list[flask.Blueprint]:
    """The JSON API's blueprints, for the app to register."""
    from issuer.api import (accounts, applications, audit_log, keys, me, orders, passes,
                            payments, public, ridership, routes)

    return [module.bp for module in (public, routes, accounts, passes, keys, me, orders,
                                     applications, audit_log, ridership, payments)]
