"""The rider's order page and paying it online: by card or e-wallet through the gateway
(issuer.sales.gateway), and back from it."""

from __future__ import annotations

import flask

from issuer.identity import accounts
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import gateway, orders, settlement
from issuer.web import auth, browser
from shared import clock

bp = flask.Blueprint("rider_payments", __name__)
bp.before_request(browser.protect_form)


def _own_order(order_id: str):
    order = orders.get(db.get_session(), order_id)
    orders.check_owner(order, auth.caller().account_id)
    return order


@bp.get("/my/orders/<order_id>")
@auth.require_rider
def order_page(order_id: str):
    session = db.get_session()
    order = _own_order(order_id)
    now = clock.now()
    if order.status == orders.PENDING and orders.is_expired(order, now):
        orders.expire_one(session, order, now=now)
        session.commit()
    return flask.render_template(
        "rider/order.html", rider=accounts.get(session, order.account_id),
        order=orders.as_dict(session, order),
        payments=[settlement.as_dict(p) for p in settlement.payments_of(session, order.id)],
        card=gateway.Gateway.configured(flask.current_app.config))


@bp.post("/my/orders/<order_id>/pay/card")
@auth.require_rider
def pay_by_card(order_id: str):
    session = db.get_session()
    order = _own_order(order_id)
    try:
        url = gateway.start(session, gateway.Gateway.from_config(flask.current_app.config),
                            order.id, auth.caller().account_id,
                            return_url=flask.url_for("rider_payments.card_return",
                                                     _external=True),
                            ip=flask.request.remote_addr or "127.0.0.1", now=clock.now())
    except IssuerError as exc:
        session.rollback()
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id),
                              303)
    return flask.redirect(url, 303)


@bp.get("/my/payments/card/return")
@auth.require_rider
def card_return():
    """Back from the gateway. The order is shown as it stands; if no IPN has come, the
    gateway is asked (querydr) and its answer settles the order."""
    session = db.get_session()
    fields = {k: v for k, v in flask.request.args.items() if isinstance(v, str)}
    raw = flask.request.query_string.decode("utf-8", "replace")
    order = gateway.returned(session, gateway.Gateway.from_config(flask.current_app.config),
                             fields, raw, ip=flask.request.remote_addr or "127.0.0.1",
                             now=clock.now())
    orders.check_owner(order, auth.caller().account_id)
    if order.status == orders.PAID:
        flask.flash(f"Đã thanh toán đơn {order.id}; vé {order.pass_id} đã sẵn sàng. "
                    f"Order {order.id} is paid; pass {order.pass_id} is ready.", "ok")
    elif fields.get("vnp_ResponseCode") not in (None, "00"):
        flask.flash("Giao dịch không thành công; bạn có thể thử lại. "
                    "The payment did not go through; you may try again.", "error")
    else:
        flask.flash("Đang chờ cổng thanh toán xác nhận. "
                    "Waiting for the gateway to confirm the payment.", "ok")
    return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id), 303)
