"""``/console/payments`` (clerks): money that arrived and paid nothing (short or over, for an
expired or cancelled order, a reference that names none), each held until a clerk applies it
to an order or gives it back. Both are audited actions (issuer.sales.actions)."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.identity import operators
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import actions, reasons, reconcile, refunds, settlement
from issuer.web import auth, browser, language
from shared import clock

bp = flask.Blueprint("console_payments", __name__, url_prefix="/console/payments")
bp.before_request(browser.protect_form)

CLERK = operators.CLERK


@bp.get("/", endpoint="held")
@auth.require_roles(CLERK)
def held_page():
    session = db.get_session()
    return flask.render_template(
        "console/payments.html", operator=auth.caller(),
        held=[settlement.as_dict(p) for p in settlement.held(session)],
        owed=[settlement.as_dict(p) for p in refunds.owed(session)])


def _payment_id(payment_id: str) -> int:
    if not payment_id.isdigit() or len(payment_id) > 18:
        flask.abort(404, _("No payment %(id)s.", id=payment_id))
    return int(payment_id)


def _decide(act, said: str):
    """Run a clerk's action on held money, flash what it did (``said``, in the page's
    language, with the action's own words as ``%(what)s``) or why it was refused, and go back
    to the list."""
    session = db.get_session()
    try:
        done = act(session)
        flask.flash(said % {"what": language.said(reasons.read(done.reason, done.reason_args))},
                    "ok")
    except IssuerError as exc:
        session.rollback()
        flask.flash(language.said(exc), "error")
    return flask.redirect(flask.url_for("console_payments.held"), 303)


@bp.post("/<payment_id>/apply")
@auth.require_roles(CLERK)
def apply(payment_id: str):
    order_id = flask.request.form.get("order_id", "").strip().upper() or None
    return _decide(lambda session: actions.apply_held_payment(
        session, auth.caller(), _payment_id(payment_id), order_id, now=clock.now()),
        _("Applied: %(what)s."))


@bp.post("/<payment_id>/refund")
@auth.require_roles(CLERK)
def refund(payment_id: str):
    return _decide(lambda session: actions.refund_held_payment(
        session, auth.caller(), _payment_id(payment_id), flask.request.form.get("reason", ""),
        now=clock.now(), config=flask.current_app.config,
        ip=flask.request.remote_addr or "127.0.0.1"), _("Refunded: %(what)s."))


@bp.post("/<payment_id>/transferred")
@auth.require_roles(CLERK)
def transferred(payment_id: str):
    """A clerk made a refund's bank transfer."""
    return _decide(lambda session: actions.record_refund_transfer(
        session, auth.caller(), _payment_id(payment_id), flask.request.form.get("note", ""),
        now=clock.now()), _("Transfer recorded: %(what)s."))


@bp.get("/reconcile")
@auth.require_roles(CLERK)
def reconciliation():
    """One day's reconciliation per provider; ?format=csv for the file."""
    day = flask.request.args.get("date") or clock.iso(clock.now())[:10]
    session = db.get_session()
    found = reconcile.rows(session, day)
    if flask.request.args.get("format") == "csv":
        response = flask.make_response(reconcile.as_csv(found))
        response.content_type = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="reconciliation-{day}.csv"')
        return response
    return flask.render_template("console/reconcile.html", operator=auth.caller(), day=day,
                                 rows=found)
