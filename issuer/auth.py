"""Who is calling: the operator (one shared bearer token) or a rider (their account's token).

Missing or unknown tokens are 401; a known caller asking for what is not theirs is 403.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

import flask
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from issuer import accounts, db
from issuer.models import Pass

OPERATOR = "operator"
RIDER = "rider"


@dataclass(frozen=True)
class Caller:
    role: str
    account_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR


def caller() -> Caller:
    """The authenticated caller of this request, or a 401."""
    if "caller" not in flask.g:
        flask.g.caller = _authenticate()
    return flask.g.caller


def _authenticate() -> Caller:
    header = flask.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("an Authorization: Bearer token is required")
    operator_token = flask.current_app.config.get("OPERATOR_TOKEN")
    if operator_token and hmac.compare_digest(token.encode(), operator_token.encode()):
        return Caller(OPERATOR)
    account = accounts.by_token(db.get_session(), token)
    if account is None:
        raise _unauthorized("the bearer token is not valid")
    return Caller(RIDER, account.id)


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, www_authenticate=WWWAuthenticate("bearer", {"realm": "vexe"}))


def operator_required(view):
    """Operators only: riders get a 403."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not caller().is_operator:
            raise Forbidden("this needs the operator token")
        return view(*args, **kwargs)

    return wrapped


def check_pass_access(p: Pass) -> Caller:
    """The operator may see any pass; a rider only their own."""
    who = caller()
    if not who.is_operator and p.account_id != who.account_id:
        raise Forbidden("this pass belongs to another account")
    return who
