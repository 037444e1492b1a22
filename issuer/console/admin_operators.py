"""Operators, for administrators: add one, change their roles, disable them, issue and
revoke their API tokens (a new token is shown once, on the answer to the form, never
again). The same services as ``vexe operator`` (issuer.identity.actions)."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, form, page, refused
from issuer.identity import actions, operators
from issuer.platform import db
from issuer.platform.errors import Invalid, IssuerError
from issuer.web import auth, browser
from issuer.web.words import word
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("admin_operators", __name__, url_prefix="/console/admin/operators")
bp.before_request(browser.protect_form)


def _list_page(status: int = 200, typed: dict | None = None):
    session = db.get_session()
    return page("operators.html", status, operators_=operators.list_operators(session),
                roles=operators.ROLES, typed=typed or {"roles": []})


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    return _list_page()


@bp.post("/")
@auth.require_roles(ADMIN)
def create():
    typed = {**form("username"), "roles": flask.request.form.getlist("roles")}
    password = flask.request.form.get("password") or None
    try:
        made = actions.create_operator(db.get_session(), auth.caller(), typed["username"],
                                       typed["roles"], now=clock.now(), password=password)
    except IssuerError as exc:
        return _list_page(refused(exc), typed)
    done(_("Operator %(name)s added.", name=made.username))
    return flask.redirect(flask.url_for("admin_operators.show", username=made.username), 303)


def _operator_page(username: str, status: int = 200, token: str | None = None,
                   typed: dict | None = None):
    session = db.get_session()
    who = operators.get(session, username)
    return page("operator.html", status, op=who, held=operators.roles_of(who),
                roles=operators.ROLES, tokens=operators.list_tokens(session, who.username),
                new_token=token, typed=typed or {})


@bp.get("/<username>")
@auth.require_roles(ADMIN)
def show(username: str):
    return _operator_page(username)


@bp.post("/<username>/roles")
@auth.require_roles(ADMIN)
def roles(username: str):
    chosen = flask.request.form.getlist("roles")
    try:
        changed = actions.set_operator_roles(db.get_session(), auth.caller(), username, chosen,
                                             now=clock.now())
    except IssuerError as exc:
        return _operator_page(username, refused(exc))
    done(_("Roles of %(name)s saved.", name=changed.username))
    return flask.redirect(flask.url_for("admin_operators.show", username=username), 303)


@bp.post("/<username>/disable")
@auth.require_roles(ADMIN)
def disable(username: str):
    typed = form("reason")
    try:
        if not typed["reason"]:
            raise Invalid(N_("say why the operator is disabled"))
        if username == auth.caller().actor:
            raise Invalid(N_("you cannot disable yourself"))
        actions.disable_operator(db.get_session(), auth.caller(), username, typed["reason"],
                                 now=clock.now())
    except IssuerError as exc:
        return _operator_page(username, refused(exc), typed=typed)
    done(_("Operator %(name)s is disabled: no more sign-in or tokens.", name=username))
    return flask.redirect(flask.url_for("admin_operators.show", username=username), 303)


@bp.post("/<username>/tokens")
@auth.require_roles(ADMIN)
def issue_token(username: str):
    role = flask.request.form.get("role", "")
    try:
        row, token = actions.issue_operator_token(db.get_session(), auth.caller(), username,
                                                  role, now=clock.now())
    except IssuerError as exc:
        return _operator_page(username, refused(exc))
    # The token is on this answer only (not a redirect): it is not kept, and the page is
    # not cached (admin_forms.page).
    flask.flash(_("Token %(id)s issued for the role %(role)s.", id=row.id,
                  role=word(role, "role")), "ok")
    return _operator_page(username, 201, token=token)


@bp.post("/<username>/tokens/<int:token_id>/revoke")
@auth.require_roles(ADMIN)
def revoke_token(username: str, token_id: int):
    session = db.get_session()
    try:
        if not any(t["token_id"] == token_id for t in operators.list_tokens(session, username)):
            raise Invalid(N_("token %(id)s is not one of %(name)s's"), id=token_id,
                          name=username)
        actions.revoke_operator_token(session, auth.caller(), token_id, now=clock.now())
    except IssuerError as exc:
        return _operator_page(username, refused(exc))
    done(_("Token %(id)s revoked.", id=token_id))
    return flask.redirect(flask.url_for("admin_operators.show", username=username), 303)
