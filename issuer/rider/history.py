"""The rider's own history at ``/my/trips``: each pass's scans on the buses (newest first,
a refusal with its reason in words), her orders and their payments; and a way to ask for
help or report a problem with a trip, which waits in the clerks' queue
(issuer.console.help) until answered, the answer shown here."""

from __future__ import annotations

import flask
import sqlalchemy as sa
from flask_babel import gettext as _

from backoffice import help_requests, reports
from issuer.identity import accounts
from issuer.platform import audit, db
from issuer.platform.errors import IssuerError
from issuer.platform.models import Pass
from issuer.rider import common
from issuer.sales import orders, settlement
from issuer.web import auth, browser
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("rider_history", __name__)
bp.before_request(browser.protect_form)
common.init(bp)

TRIPS_SHOWN = 100  # a pass's newest scans on the page; a month of two rides a day and more


@bp.get("/my/trips")
@auth.require_rider
def trips():
    form = {"trip": flask.request.args.get("trip", ""), "message": ""}
    return _page(form)


@bp.post("/my/help")
@auth.require_rider
def ask():
    session = db.get_session()
    who = auth.caller()
    form = {"trip": flask.request.form.get("trip", ""),
            "message": flask.request.form.get("message", "")}
    try:
        with audit.action(session, who, "help.ask", now=clock.now()) as entry:
            request = help_requests.ask(session, who.account_id, form["message"],
                                        trip_id=form["trip"] or None, now=clock.now())
            entry.target = f"help:{request.id}"
            entry.reason = request.trip_id and f"trip {request.trip_id}"
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return _page(form), exc.status
    flask.flash(_("Your message is sent (number %(id)s). A clerk will answer here.",
                  id=request.id), "ok")
    return flask.redirect(flask.url_for("rider_history.trips") + "#help", 303)


def _page(form: dict):
    session = db.get_session()
    who = auth.caller()
    rider = accounts.get(session, who.account_id)
    held = session.scalars(sa.select(Pass).where(Pass.account_id == rider.id)
                           .order_by(Pass.valid_from.desc(), Pass.id)).all()
    by_pass = [(p, list(reversed(reports.pass_history(session, p.id, limit=TRIPS_SHOWN))))
               for p in held]
    recent = sorted((t for _p, scans in by_pass for t in scans),
                    key=lambda t: t["at_ms"], reverse=True)[:30]
    bought = [(orders.as_dict(session, o),
               [settlement.as_dict(p) for p in settlement.payments_of(session, o.id)])
              for o in orders.of_account(session, rider.id)]
    return flask.render_template(
        "rider/trips.html", rider=rider, by_pass=by_pass, recent=recent, orders=bought,
        requests=help_requests.of_account(session, rider.id), form=form,
        most=help_requests.MAX_TEXT)
