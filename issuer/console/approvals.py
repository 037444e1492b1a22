"""The approvers' pages: applications waiting for a decision, with their evidence; approve,
or reject with a reason the rider reads."""

from __future__ import annotations

import flask

from issuer.identity import accounts, operators
from issuer.passes import catalogue
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import actions, applications
from issuer.web import auth, browser
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
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("approvals.index"))
    flask.flash(f"Đơn {done.id}: {done.status}. Application {done.id}: {done.status}.", "ok")
    return flask.redirect(flask.url_for("approvals.index"))
