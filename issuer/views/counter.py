"""The sales counter's pages (clerks): find an order, take the cash and confirm it, print the
receipt; cancel a pending order, refund a paid one."""

from __future__ import annotations

import flask

from issuer import accounts, audit, auth, db, operators, orders, web
from issuer.errors import IssuerError
from issuer.views import publish_now
from shared import clock

bp = flask.Blueprint("counter", __name__, url_prefix="/console/counter")
bp.before_request(web.protect_form)

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
        done = orders.pay(session, order_id, amount_vnd=amount, handled_by=who.actor, now=now)
    except IssuerError as exc:
        session.rollback()
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("counter.order", order_id=order_id))
    audit.record(session, who, "order.pay", done.id,
                 f"{done.price_vnd} VND, receipt {done.payment_ref}", now=now)
    return flask.redirect(flask.url_for("counter.receipt", order_id=done.id))


@bp.post("/<order_id>/cancel")
@auth.require_roles(CLERK)
def cancel(order_id: str):
    session = db.get_session()
    now = clock.now()
    try:
        done = orders.cancel(session, order_id, now=now)
        audit.record(session, auth.caller(), "order.cancel", done.id, now=now)
        flask.flash(f"Đã hủy đơn {done.id}. Order {done.id} cancelled.", "ok")
    except IssuerError as exc:
        session.rollback()
        flask.flash(str(exc), "error")
    return flask.redirect(flask.url_for("counter.order", order_id=order_id))


@bp.post("/<order_id>/refund")
@auth.require_roles(CLERK)
def refund(order_id: str):
    session = db.get_session()
    who = auth.caller()
    now = clock.now()
    try:
        done = orders.refund(session, order_id, flask.request.form.get("reason", ""),
                             refunded_by=who.actor, now=now)
    except IssuerError as exc:
        session.rollback()
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("counter.order", order_id=order_id))
    audit.record(session, who, "order.refund", done.id, done.refund_reason, now=now)
    published = publish_now(session, now)
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
