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

from issuer.identity import accounts, operators
from issuer.passes import actions as pass_actions
from issuer.passes import passes, qr
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import actions, orders
from issuer.web import auth, browser, publishing
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
        flask.flash(str(exc), "error")
        found = []
    rows = [(orders.as_dict(session, o), accounts.get(session, o.account_id)) for o in found]
    return flask.render_template("console/counter.html", operator=auth.caller(), rows=rows,
                                 q=query, status=status or "")


@bp.get("/<order_id>")
@auth.require_roles(CLERK)
def order(order_id: str):
    session = db.get_session()
    found = orders.get(session, order_id)
    return flask.render_template("console/order.html", operator=auth.caller(),
                                 order=orders.as_dict(session, found),
                                 rider=accounts.get(session, found.account_id))


@bp.post("/<order_id>/pay")
@auth.require_roles(CLERK)
def pay(order_id: str):
    session = db.get_session()
    who = auth.caller()
    now = clock.now()
    try:
        amount = int(flask.request.form.get("amount_vnd", ""))
    except ValueError:
        amount = -1
    try:
        done = actions.take_payment(session, who, order_id, amount, now=now)
    except IssuerError as exc:
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("counter.order", order_id=order_id))
    return flask.redirect(flask.url_for("counter.receipt", order_id=done.id))


@bp.post("/<order_id>/cancel")
@auth.require_roles(CLERK)
def cancel(order_id: str):
    session = db.get_session()
    now = clock.now()
    try:
        done = actions.cancel(session, auth.caller(), order_id, now=now)
        flask.flash(f"Đã hủy đơn {done.id}. Order {done.id} cancelled.", "ok")
    except IssuerError as exc:
        flask.flash(str(exc), "error")
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
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("counter.order", order_id=order_id))
    published = publishing.answer(result)
    flask.flash(f"Đã hoàn tiền đơn {done.id}, vé bị thu hồi. Order {done.id} refunded, pass "
                "revoked." + ("" if published["published"] else " " + published["warning"]),
                "ok")
    return flask.redirect(flask.url_for("counter.order", order_id=order_id))


@bp.get("/<order_id>/receipt")
@auth.require_roles(CLERK)
def receipt(order_id: str):
    session = db.get_session()
    found = orders.get(session, order_id)
    if found.status not in (orders.PAID, orders.REFUNDED):
        flask.abort(409, f"order {found.id} is {found.status}: no receipt")
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
        flask.flash(str(exc), "error")
        return _pass_page(pass_id), exc.status
    return _pass_page(pass_id, qr_png=base64.b64encode(qr.png(text)).decode())


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
        pass_=passes.as_dict(session, p), qr_png=qr_png))
    response.cache_control.no_store = True  # a QR rides: never kept by a browser or proxy
    return response
