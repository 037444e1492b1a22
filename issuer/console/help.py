"""The clerks' help queue: riders' questions and problems with trips (backoffice.help_requests),
oldest first, each with the trip it is about; a clerk answers with a reply the rider reads on
her trips page, and the request leaves the queue."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from backoffice import help_requests, reports
from issuer.identity import accounts, operators
from issuer.platform import audit, db
from issuer.platform.errors import IssuerError
from issuer.web import auth, browser
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("console_help", __name__, url_prefix="/console/help")
bp.before_request(browser.protect_form)


@bp.get("/")
@auth.require_roles(operators.CLERK)
def queue():
    session = db.get_session()
    rows = []
    for request in help_requests.open_queue(session):
        trip = None
        if request.trip_id and request.pass_id:
            trip = next((t for t in reports.pass_history(session, request.pass_id)
                         if t["id"] == request.trip_id), None)
        rows.append((request, accounts.get(session, request.account_id), trip))
    return flask.render_template("console/help.html", operator=auth.caller(), rows=rows,
                                 most=help_requests.MAX_TEXT)


@bp.post("/<int:request_id>")
@auth.require_roles(operators.CLERK)
def answer(request_id: int):
    session = db.get_session()
    who = auth.caller()
    try:
        with audit.action(session, who, "help.answer", now=clock.now(),
                          target=f"help:{request_id}"):
            help_requests.answer(session, request_id, flask.request.form.get("reply", ""),
                                 clerk=who.actor, now=clock.now())
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("console_help.queue"), 303)
    flask.flash(_("Help request %(id)s answered.", id=request_id), "ok")
    return flask.redirect(flask.url_for("console_help.queue"), 303)
