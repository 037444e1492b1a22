"""The HTTP API's blueprints, and what they share: reading JSON bodies and answering errors.

Every error is JSON, ``{"error": "...", "message": "..."}``, with a 4xx or 5xx status: never
an HTML page, never a stack trace. ``error`` is English and stable, for programs and logs;
``message`` is the same in the caller's language (Accept-Language or the language cookie), for
people.
"""

from __future__ import annotations

import logging
from typing import TypeVar

import flask
import sqlalchemy as sa
from flask_babel import gettext
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from issuer.platform.errors import Invalid, IssuerError, Unsaved, Word
from issuer.web import words
from shared import jsonbody
from shared.i18n import N_

log = logging.getLogger(__name__)
T = TypeVar("T")


def json_body(shape: type[T]) -> T:
    """The request's JSON object as ``shape`` (one of :mod:`issuer.api.shapes`): a 400 with
    the reason when it is not JSON, not text, or not the shape."""
    try:
        return jsonbody.read(flask.request.get_data(cache=True), shape)
    except jsonbody.BodyError as exc:
        raise Invalid(exc.template, **exc.params) from None


def check_text(value: str, what: jsonbody.Said) -> None:
    """Invalid unless ``value`` is UTF-8 text without a NUL character."""
    problem = jsonbody.text_problem(value)
    if problem:
        raise Invalid(N_("%(what)s is not text: %(problem)s"), what=what, problem=problem)


def check_request_text() -> None:
    """For every request, before its view: the query, the form and the path's parts are text
    (a NUL is spelt %00 in any of them; werkzeug replaces bytes that are not UTF-8)."""
    request = flask.request
    for kind, items in ((N_("query parameter"), request.args.items(multi=True)),
                        (N_("path part"), (request.view_args or {}).items()),
                        (N_("form field"), request.form.items(multi=True)
                         if request.mimetype in FORM_TYPES else ())):
        for name, value in items:
            check_text(name, jsonbody.Said(N_("%(kind)s name"), kind=jsonbody.Said(kind)))
            if isinstance(value, str):
                check_text(value, jsonbody.Said(N_("%(kind)s %(name)s"), kind=jsonbody.Said(kind),
                                                name=repr(name)))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


DATABASE_RETRY_AFTER = 5  # seconds: a database restart takes about this long

# Paths of the pages people read; everything else answers errors in JSON.
PAGE_PREFIXES = ("/console", "/my", "/signin", "/signout", "/pay")

ERROR_TITLES = {
    400: N_("Bad request"),
    401: N_("Sign-in needed"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    409: N_("Not possible now"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    503: N_("Unavailable for a moment"),
}
OTHER_ERROR = N_("Error")
# What the web framework's own refusals say, in words a person can act on.
HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Sign in first."),
    403: N_("You may not do this."),
    404: N_("There is nothing at this address."),
    405: N_("This address does not take this kind of request."),
    413: N_("What was sent is too large."),
    415: N_("What was sent is not in a form this address takes."),
    429: N_("Too many requests: wait a little and try again."),
    500: N_("Something went wrong on our side; try again shortly."),
}


def is_page_request() -> bool:
    path = flask.request.path
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def error_response(status: int, message: str, localized: str | None = None) -> flask.Response:
    """``message`` is the English text (the API's stable ``error``); ``localized`` the same in
    the request's language (a page shows it, the API gives it as ``message``), when known."""
    shown = localized if localized is not None else gettext(message)
    if is_page_request():
        body = flask.render_template("error.html", status=status,
                                     title=gettext(ERROR_TITLES.get(status, OTHER_ERROR)),
                                     message=shown)
        return flask.make_response(body, status)
    response = flask.jsonify(error=message, message=shown)
    response.status_code = status
    return response


def register_error_handlers(app: flask.Flask) -> None:
    app.before_request(check_request_text)
    Word.words = words.WORDS  # the statuses inside messages, said as on the pages

    @app.errorhandler(IssuerError)
    def issuer_error(exc: IssuerError):
        return error_response(exc.status, str(exc), exc.localized(gettext))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Keep the status and headers (WWW-Authenticate, Allow); replace the body.
        response = exc.get_response()
        status = exc.code or 500
        described = exc.description
        if status in HTTP_MESSAGES and (described == type(exc).description
                                        or isinstance(exc, RateLimitExceeded)):
            # The framework's default text, or the limiter's ("20 per 1 minute"): ours.
            described = HTTP_MESSAGES[status]
        own = error_response(status, described)
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
        response = error_response(503, N_("the database is unavailable; try again shortly"))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(Unsaved)
    def action_unsaved(exc: Unsaved):
        # The database failed inside an operator's action: the answer says whether it stands.
        log.error("database error during an action (saved: %s): %s", exc.saved, exc.__cause__)
        response = error_response(503, str(exc), exc.localized(gettext))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(sa.exc.IntegrityError)
    def integrity_error(exc: sa.exc.IntegrityError):
        # Two requests raced for one thing (two devices bound at once, one id twice).
        log.warning("integrity error: %s", exc.orig)
        return error_response(409, N_("a concurrent change conflicted with this request; retry"))

    @app.errorhandler(sa.exc.DataError)
    def data_error(exc: sa.exc.DataError):
        # A value the database cannot hold, from the request (a NUL character, which
        # PostgreSQL text refuses; a number past a column's range): the client's to fix.
        log.warning("data error: %s", exc.orig)
        session = flask.g.get("db")
        if session is not None:
            session.rollback()
        return error_response(400, N_("a value in the request is not one the issuer can store "
                                      "or look up (a NUL character, or a number out of range)"))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", flask.request.method, flask.request.path)
        return error_response(500, N_("internal error; it has been logged"))


def blueprints() -> list[flask.Blueprint]:
    """The JSON API's blueprints, for the app to register."""
    from issuer.api import (accounts, applications, audit_log, keys, me, orders, passes,
                            payments, public, ridership, routes)

    return [module.bp for module in (public, routes, accounts, passes, keys, me, orders,
                                     applications, audit_log, ridership, payments)]
