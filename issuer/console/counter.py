"""The sales counter's pages (clerks): find an order, take the cash and confirm it, print the
receipt; cancel a pending order, refund a paid one; for a rider whose phone can't hold a key,
make her pass custodial and show or print its QR.

A pass's QR rides on it, so taking it is acting for the rider: the clerk sees who the rider is
(name, birth date, photo), gives a reason, and the audit log keeps both, in the same unit of
work as the binding. Nowhere else may an operator take a rider's QR or credential.
"""

from __future__ import annotations

import base64

import flask
from flask_babel import gettext as _

from issuer.identity import accounts, operators
from issuer.passes import actions as pass_actions
from issuer.console import amounts
from issuer.passes import passes, qr, revocation
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.platform.models import FareCategory
from issuer.sales import actions, orders
from issuer.web import auth, browser, publishing, words
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("counter", __name__, url_prefix="/console/counter")
bp.before_request(browser.protect_form)

CLERK = operators.CLERK


@bp.get("/", endpoint="orders")
@auth.require_roles(CLERK)
def orders_page():
    session = db.get_session()
    query = flask.request.args.get("q", "").strip()[:200]
    status = flask.request.args.get("status") or None
    try:
        found = orders.search(session, status=status, query=query or None)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        found = []
    rows = [(orders.as_dict(session, o), accounts.get(session, o.account_id)) for o in found]
    return flask.render_template("console/counter.html", operator=auth.caller(), rows=rows,
                                 q=query, status=status or "")


@bp.get("/<order_id>")
@auth.require_roles(CLERK)
def order(order_id: str):
    return _order_page(order_id)


def _order_page(order_id: str, amount: str = ""):
    session = db.get_session()
    found = orders.get(session, order_id)
    category = session.get(FareCategory, found.category) if found.category else None
    return flask.render_template("console/order.html", operator=auth.caller(),
                                 order=orders.as_dict(session, found), amount=amount,
                                 category=category,
                                 rider=accounts.get(session, found.account_id))


@bp.post("/<order_id>/pay")
@auth.require_roles(CLERK)
def pay(order_id: str):
    """Take the cash. The amount is read as the clerk typed it (issuer.console.amounts); one
    that cannot be read for certain, or is not the price, is refused with the page kept as
    typed."""
    session = db.get_session()
    who = auth.caller()
    now = clock.now()
    typed = flask.request.form.get("amount_vnd", "")[:40]
    amount = amounts.parse(typed)
    if amount is None:
        flask.flash(_("“%(typed)s” is not an amount we can read for certain: write it as "
                      "100.000, 100000 or 100k.", typed=typed.strip()), "error")
        return _order_page(order_id, typed), 400
    try:
        done = actions.take_payment(session, who, order_id, amount, now=now)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return _order_page(order_id, typed), exc.status
    return flask.redirect(flask.url_for("counter.receipt", order_id=done.id))


@bp.post("/<order_id>/cancel")
@auth.require_roles(CLERK)
def cancel(order_id: str):
    session = db.get_session()
    now = clock.now()
    try:
        done = actions.cancel(session, auth.caller(), order_id, now=now)
        flask.flash(_("Order %(id)s cancelled.", id=done.id), "ok")
    except IssuerError as exc:
        flask.flash(said(exc), "error")
    return flask.redirect(flask.url_for("counter.order", order_id=order_id))


@bp.post("/<order_id>/refund")
@auth.require_roles(CLERK)
def refund(order_id: str):
    session = db.get_session()
    who = auth.caller()
    now = clock.now()
    try:
        done, result = actions.refund(session, who, order_id,
                                      flask.request.form.get("reason", ""), now=now,
                                      redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("counter.order", order_id=order_id))
    published = publishing.answer(result)
    flask.flash(_("Order %(id)s refunded, pass revoked.", id=done.id)
                + ("" if published["published"] else " " + NOT_PUBLISHED()), "ok")
    return flask.redirect(flask.url_for("counter.order", order_id=order_id))


@bp.get("/<order_id>/receipt")
@auth.require_roles(CLERK)
def receipt(order_id: str):
    session = db.get_session()
    found = orders.get(session, order_id)
    if found.status not in (orders.PAID, orders.REFUNDED):
        flask.abort(409, _("Order %(id)s is %(status)s: no receipt.", id=found.id,
                           status=words.word(found.status, "order")))
    return flask.render_template("console/receipt.html", operator=auth.caller(),
                                 order=orders.as_dict(session, found),
                                 rider=accounts.get(session, found.account_id))


@bp.get("/passes/<pass_id>", endpoint="rider_pass")
@auth.require_roles(CLERK)
def rider_pass(pass_id: str):
    return _pass_page(pass_id)


@bp.post("/passes/<pass_id>/custodial-qr")
@auth.require_roles(CLERK)
def custodial_qr(pass_id: str):
    """Make the pass custodial (if it is on no device) and show its QR, for the rider in
    front of the clerk, with the clerk's reason in the audit log."""
    session = db.get_session()
    config = flask.current_app.config
    now = clock.now()
    try:
        text = pass_actions.take_custodial_qr(
            session, auth.caller(), pass_id, flask.request.form.get("reason"), at=now, now=now,
            sealing_key=config["SEALING_KEY"], lifetime=config["CREDENTIAL_LIFETIME"])
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return _pass_page(pass_id), exc.status
    return _pass_page(pass_id, qr_png=base64.b64encode(qr.png(text)).decode())


@bp.post("/passes/<pass_id>/restore")
@auth.require_roles(operators.ADMINISTRATOR)
def restore(pass_id: str):
    """Switch a pass revoked by mistake back on (audited, the denylist republished)."""
    session = db.get_session()
    try:
        _restored, result = pass_actions.restore_pass(
            session, pass_id, auth.caller(), flask.request.form.get("note"), now=clock.now(),
            redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return _pass_page(pass_id), exc.status
    published = publishing.answer(result)
    flask.flash(_("Pass %(id)s restored.", id=pass_id)
                + ("" if published["published"] else " " + NOT_PUBLISHED()), "ok")
    return flask.redirect(flask.url_for("counter.rider_pass", pass_id=pass_id), 303)


def NOT_PUBLISHED() -> str:  # noqa: N802 - a sentence, said in the request's language
    return _("Validators have not been told yet; it will be retried.")


def _pass_page(pass_id: str, qr_png: str | None = None):
    session = db.get_session()
    p = passes.get(session, pass_id)
    rider = accounts.get(session, p.account_id)
    photo = None
    if rider.photo is not None:
        kind = "image/jpeg" if rider.photo[:3] == b"\xff\xd8\xff" else "image/png"
        photo = f"data:{kind};base64,{base64.b64encode(rider.photo).decode()}"
    response = flask.make_response(flask.render_template(
        "console/rider_pass.html", operator=auth.caller(), rider=rider, photo=photo,
        pass_=passes.as_dict(session, p), qr_png=qr_png, revoked=revocation.of_pass(p),
        can_restore=auth.caller().has_role(operators.ADMINISTRATOR)))
    response.cache_control.no_store = True  # a QR rides: never kept by a browser or proxy
    return response
