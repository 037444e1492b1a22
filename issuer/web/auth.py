"""Who is calling, and what they may do.

A caller is one of:
- an operator with an API token scoped to one role (``Authorization: Bearer``). ``vexe
  init`` makes the first: operator ``bootstrap``'s administrator token, which it writes to
  ``operator.token``; it is listed and revoked by its id like any other;
- an operator signed in on the web (session cookie), with all of their roles;
- a rider signed in through the national e-ID (session cookie), or an API client holding a
  rider token.

Missing, unknown, ended or expired credentials are 401 (pages redirect to their sign-in
page); a known caller asking for what is not theirs is 403. A request authenticated by a
cookie must carry the session's CSRF token if it changes anything.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import flask
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from issuer.identity import accounts, operators, sessions
from issuer.platform import db
from issuer.platform.errors import Forbidden
from issuer.web import browser
from issuer.platform.models import Account, Operator, Pass
from shared import clock
from shared.i18n import N_

OPERATOR = "operator"
RIDER = "rider"
SESSION_KEY = "sid"  # the web session id inside the signed cookie


@dataclass(frozen=True)
class Caller:
    kind: str  # OPERATOR or RIDER
    roles: frozenset[str] = frozenset()
    username: str | None = None  # operators
    account_id: str | None = None  # riders
    via: str = "token"  # "token" or "session"

    @property
    def is_operator(self) -> bool:
        return self.kind == OPERATOR

    @property
    def actor(self) -> str:
        """The name written in the audit log."""
        return self.username if self.is_operator else f"rider:{self.account_id}"

    def has_role(self, *roles: str) -> bool:
        """An administrator may do everything."""
        return self.is_operator and (operators.ADMINISTRATOR in self.roles
                                     or not self.roles.isdisjoint(roles))


def caller() -> Caller:
    """The authenticated caller of this request, or a 401."""
    if "caller" not in flask.g:
        who = current_caller()
        if who is None:
            raise _unauthorized(_missing_message())
        flask.g.caller = who
    return flask.g.caller


def current_caller() -> Caller | None:
    """The caller, or None when nobody is signed in and no token is sent. A token sent but
    not valid is still a 401: a client with a broken token must hear about it."""
    if "caller" in flask.g:
        return flask.g.caller
    header = flask.request.headers.get("Authorization")
    if header is not None:
        who = _from_bearer(header)
    else:
        who = _from_session()
        if who is not None and flask.request.method in browser.UNSAFE_METHODS:
            browser.csrf.protect()  # a 400 when the form or X-CSRFToken header lacks it
    if who is not None:
        flask.g.caller = who
    return who


def bearer_token() -> str | None:
    """The bearer token this request sends, or None (no header, or not a bearer token: who
    is calling then says why)."""
    return bearer_of(flask.request.headers.get("Authorization", ""))


def bearer_of(header: str) -> str | None:
    """The token of an ``Authorization`` header's value, if it is a bearer token."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def rider_is(account_id: str) -> None:
    """This request's caller is the rider ``account_id``, as a statement that checked her
    token has just said (issuer.passes.refresh)."""
    flask.g.caller = Caller(RIDER, account_id=account_id)


def _from_bearer(header: str) -> Caller:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("send the token as Authorization: Bearer <token>")
    session = db.get_session()
    # Riders' tokens first: phones refreshing credentials are most of the traffic. Both kinds
    # are 256-bit random tokens looked up by hash, so no token is ever both.
    account = accounts.by_token(session, token)
    if account is not None:
        return Caller(RIDER, account_id=account.id)
    found = operators.by_token(session, token)
    if found is None:
        raise _unauthorized("the bearer token is not valid")
    operator, role = found
    return Caller(OPERATOR, frozenset({role}), operator.username)


def _from_session() -> Caller | None:
    sid = flask.session.get(SESSION_KEY)
    if sid is None:
        return None
    session = db.get_session()
    row = sessions.lookup(session, sid, now=clock.now())
    if row is None:
        flask.session.pop(SESSION_KEY, None)
        return None
    if row.operator_id is not None:
        operator = session.get(Operator, row.operator_id)
        if operator is None or operator.disabled_at is not None:
            return None
        return Caller(OPERATOR, operators.roles_of(operator), operator.username, via="session")
    return Caller(RIDER, account_id=row.account_id, via="session")


def _missing_message() -> str:
    return "sign in, or send an Authorization: Bearer token"


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, www_authenticate=WWWAuthenticate("bearer", {"realm": "vexe"}))


def _is_api_request() -> bool:
    return flask.request.path.startswith("/api/")


def require_roles(*roles: str):
    """Operators having one of ``roles`` (or administrator): by a token scoped to such a role,
    or signed in on the web. Not signed in: 401, or for a page a redirect to the console's
    sign-in. Signed in without the role, or a rider: 403."""
    for role in roles:
        if role not in operators.ROLES:
            raise ValueError(f"unknown role {role!r}")
    needed = " or ".join(roles)

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            who = current_caller()
            if who is None:
                if _is_api_request():
                    raise _unauthorized(_missing_message())
                return flask.redirect(flask.url_for("operator_login.login",
                                                    next=flask.request.full_path.rstrip("?")))
            if not who.has_role(*roles):
                raise Forbidden(N_("this needs the role %(roles)s"), roles=needed)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def require_rider(view):
    """A rider signed in (or with a rider token). Pages redirect to the rider's sign-in."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        who = current_caller()
        if who is None:
            if _is_api_request():
                raise _unauthorized(_missing_message())
            return flask.redirect(flask.url_for("rider_login.login",
                                                next=flask.request.full_path.rstrip("?")))
        if who.is_operator:
            raise Forbidden(N_("this is for riders, signed in with their e-ID"))
        return view(*args, **kwargs)

    return wrapped


def check_pass_access(p: Pass) -> Caller:
    """Seeing a pass (its state, its devices): any operator, for support; a rider only
    their own."""
    who = caller()
    if not who.is_operator and p.account_id != who.account_id:
        raise Forbidden(N_("this pass belongs to another account"))
    return who


def check_own_pass(p: Pass) -> Caller:
    """Acting as the pass's holder (binding a phone, taking a credential or the custodial
    QR): the rider who owns it, nobody else. A credential rides; an operator holding one
    could ride on the rider's pass, or move it off her phone. A clerk who must act for a
    rider does so at the counter, as a named and audited action."""
    who = caller()
    if who.is_operator:
        raise Forbidden(N_("a pass's phone, credential and QR are its rider's own; a clerk "
                           "acts for a rider at the counter (/console/counter/passes/<id>)"))
    if p.account_id != who.account_id:
        raise Forbidden(N_("this pass belongs to another account"))
    return who


# -- signing in and out on the web ----------------------------------------------------------

def sign_in(*, operator: Operator | None = None, account: Account | None = None) -> None:
    """Start a web session. The cookie's old contents go: a session id planted before sign-in
    (fixation) never becomes a signed-in one, and the CSRF token is new."""
    flask.session.clear()
    sid = sessions.start(db.get_session(), now=clock.now(),
                             operator_id=operator.id if operator is not None else None,
                             account_id=account.id if account is not None else None)
    flask.session[SESSION_KEY] = sid
    flask.session.permanent = True
    flask.g.pop("caller", None)


def sign_out() -> None:
    sid = flask.session.get(SESSION_KEY)
    if sid is not None:
        sessions.end(db.get_session(), sid, now=clock.now())
    flask.session.clear()
    flask.g.pop("caller", None)
