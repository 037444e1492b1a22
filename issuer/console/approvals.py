"""The approvers' pages: applications waiting for a decision, with their evidence; approve,
or reject with a reason the rider reads."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.identity import accounts, operators
from issuer.passes import actions as pass_actions
from issuer.passes import catalogue, passes, revocation
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import actions, applications
from issuer.web import auth, browser, words
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("approvals", __name__, url_prefix="/console/approvals")
bp.before_request(browser.protect_form)

APPROVER = operators.APPROVER


@bp.get("/")
@auth.require_roles(APPROVER)
def index():
    session = db.get_session()
    rows = [(applications.as_dict(a), accounts.get(session, a.account_id))
            for a in applications.pending(session)]
    categories = {c["code"]: c for c in catalogue.as_dict(session)["categories"]}
    return flask.render_template("console/approvals.html", operator=auth.caller(), rows=rows,
                                 categories=categories, today=clock.now())


@bp.post("/<application_id>")
@auth.require_roles(APPROVER)
def decide(application_id: str):
    session = db.get_session()
    who = auth.caller()
    now = clock.now()
    approve = flask.request.form.get("decision") == "approve"
    reason = flask.request.form.get("reason", "").strip() or None
    try:
        done = actions.decide_application(session, who, application_id, approve=approve,
                                          reason=reason, now=now)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("approvals.index"))
    flask.flash(_("Application %(id)s: %(status)s.", id=done.id,
                  status=words.word(done.status, "application")), "ok")
    return flask.redirect(flask.url_for("approvals.index"))


@bp.get("/held")
@auth.require_roles(operators.CLERK, APPROVER)
def held():
    """Accounts whose pass was revoked for fraud or misuse: no new free pass until a clerk
    allows it again."""
    session = db.get_session()
    rows = [(p, accounts.get(session, p.account_id))
            for p in _one_per_account(passes.blocked_accounts(session))]
    return flask.render_template("console/held_accounts.html", operator=auth.caller(),
                                 rows=rows, reasons=revocation.REASONS)


def _one_per_account(found):
    seen = set()
    for p in found:
        if p.account_id not in seen:
            seen.add(p.account_id)
            yield p


@bp.post("/held/<account_id>")
@auth.require_roles(operators.CLERK, APPROVER)
def allow_again(account_id: str):
    """The clerk's decision: the account may have a free pass again (audited, with why)."""
    try:
        pass_actions.allow_free_again(db.get_session(), auth.caller(), account_id[:64],
                                      flask.request.form.get("note"), now=clock.now())
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("approvals.held"), 303)
    flask.flash(_("Account %(id)s may have a free pass again.", id=account_id), "ok")
    return flask.redirect(flask.url_for("approvals.held"), 303)
