"""``/api/orders``: riders order monthly passes, pay them by card through the gateway and
ask for refunds; sales clerks find orders, take the payment, cancel and refund.
``/api/catalogue``: what is on sale, for anyone."""

import flask

from issuer.api import json_body, shapes
from issuer.identity import operators
from issuer.network import routes
from issuer.passes import catalogue
from issuer.platform import db
from issuer.platform.errors import Forbidden
from issuer.sales import actions, gateway, orders
from issuer.web import auth, publishing
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("orders", __name__, url_prefix="/api")

CLERK = operators.CLERK


@bp.get("/catalogue")
def show_catalogue():
    session = db.get_session()
    open_day = flask.current_app.config["SALES_OPEN_DAY"]
    return {**catalogue.as_dict(session),
            "routes": [routes.as_dict(r) for r in routes.list_routes(session)
                       if r.retired_at is None],
            "months_on_sale": orders.months_on_sale(clock.now(), open_day),
            "sales_open_day": open_day}


@bp.post("/orders")
@auth.require_rider
def create():
    data = json_body(shapes.OrderRequest)
    session = db.get_session()
    order = orders.create(session, auth.caller().account_id, data.product, data.month,
                          now=clock.now(), open_day=flask.current_app.config["SALES_OPEN_DAY"],
                          route=data.route, category=data.category,
                          expires_in=flask.current_app.config["ORDER_EXPIRY_MINUTES"] * 60)
    return orders.as_dict(session, order), 201


@bp.get("/orders")
@auth.require_roles(CLERK)
def search():
    status = flask.request.args.get("status") or None
    query = flask.request.args.get("q") or None
    session = db.get_session()
    return {"orders": [orders.as_dict(session, o)
                       for o in orders.search(session, status=status, query=query)]}


def _visible_order(order_id: str):
    """The order for its rider, or for a clerk; 401, 404, 403 in that order."""
    who = auth.caller()
    order = orders.get(db.get_session(), order_id)
    if who.is_operator:
        if not who.has_role(CLERK):
            flask.abort(403, f"this needs the role {CLERK}")
    else:
        orders.check_owner(order, who.account_id)
    return who, order


@bp.get("/orders/<order_id>")
def show(order_id: str):
    _, order = _visible_order(order_id)
    return orders.as_dict(db.get_session(), order)


@bp.post("/orders/<order_id>/cancel")
def cancel(order_id: str):
    who, order = _visible_order(order_id)
    json_body(shapes.Empty)
    session = db.get_session()
    now = clock.now()
    if who.is_operator:
        order = actions.cancel(session, who, order.id, now=now)
    else:
        order = orders.cancel(session, order.id, now=now)
        session.commit()
    return orders.as_dict(session, order)


@bp.post("/orders/<order_id>/pay")
@auth.require_roles(CLERK)
def pay(order_id: str):
    data = json_body(shapes.Payment)
    session = db.get_session()
    now = clock.now()
    order = actions.take_payment(session, auth.caller(), order_id, data.amount_vnd, now=now)
    return orders.as_dict(session, order)


@bp.post("/orders/<order_id>/pay/card")
@auth.require_rider
def pay_by_card(order_id: str):
    """Where the rider's browser goes to pay by card or e-wallet: the gateway's signed URL.
    The gateway sends the rider back to the order's page, and its IPN settles the order
    whether or not she comes back (the same attempt as the order page's Pay button)."""
    json_body(shapes.Empty)
    if not gateway.Gateway.configured(flask.current_app.config):
        raise Forbidden(N_("card payments are not offered here: pay by bank transfer or at "
                           "a counter"))
    session = db.get_session()
    url = gateway.start(session, gateway.Gateway.from_config(flask.current_app.config),
                        order_id, auth.caller().account_id,
                        return_url=flask.url_for("rider_payments.card_return", _external=True),
                        ip=flask.request.remote_addr or "127.0.0.1", now=clock.now())
    return {"order_id": order_id, "payment_url": url}


@bp.post("/orders/<order_id>/refund")
def refund(order_id: str):
    """A clerk refunds at the counter; a rider asks for her own order's refund, the amount
    set by the operator's policy (issuer.sales.refunds), sent back the way it was paid."""
    who, order = _visible_order(order_id)
    data = json_body(shapes.Reason)
    session = db.get_session()
    now = clock.now()
    config = flask.current_app.config
    if who.is_operator:
        order, published = actions.refund(session, who, order.id, data.reason, now=now,
                                          redis_url=config["REDIS_URL"])
    else:
        order, published = actions.rider_refund(
            session, who.account_id, order.id, data.reason, now=now,
            redis_url=config["REDIS_URL"], config=config,
            ip=flask.request.remote_addr or "127.0.0.1")
    return {**orders.as_dict(session, order), **publishing.answer(published)}
