"""The rider's order page and paying it online: by card or e-wallet through the gateway
(issuer.sales.gateway), and back from it."""

from __future__ import annotations

import base64
import hashlib
import hmac

import flask
from flask_babel import gettext as _

from issuer.identity import accounts
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.passes import qr
from issuer.sales import actions, bank, gateway, orders, refunds, settlement
from issuer.rider import common
from issuer.web import auth, browser, headers
from issuer.web.language import said
from issuer.web import language
from shared import clock, i18n

bp = flask.Blueprint("rider_payments", __name__)
bp.before_request(browser.protect_form)
common.init(bp)


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
    card = gateway.Gateway.configured(flask.current_app.config)
    page = flask.make_response(flask.render_template(
        "rider/order.html", rider=accounts.get(session, order.account_id),
        order=orders.as_dict(session, order),
        payments=[settlement.as_dict(p) for p in settlement.payments_of(session, order.id)],
        card=card,
        refund_quote=refunds.quote(order, now) if order.status == orders.PAID else None,
        transfer=_transfer(order), share_url=flask.url_for(
            "rider_payments.shared", order_id=order.id, token=share_token(order.id),
            _external=True)))
    if card and order.status == orders.PENDING:
        headers.allow_form_to(page, flask.current_app.config["GATEWAY_URL"])
    return page


def share_token(order_id: str) -> str:
    """What makes a payment page's link hard to guess: whoever has it sees the amount, the
    operator's account and the reference, never who the rider is."""
    key = flask.current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return base64.urlsafe_b64encode(hmac.new(key, b"share-order:" + order_id.encode(),
                                             hashlib.sha256).digest()[:16]).decode().rstrip("=")


def _transfer(order) -> dict | None:
    """How to pay a pending order by bank transfer: the VietQR and the same as text."""
    config = flask.current_app.config
    if order.status != orders.PENDING or not bank.Account.configured(config):
        return None
    account = bank.Account.from_config(config)
    text = bank.qr_text(account, order)
    return {"qr_text": text, "qr_png": base64.b64encode(qr.png(text)).decode(),
            "bank_bin": account.bin, "account": account.number, "name": account.name,
            "amount": order.price_vnd, "reference": bank.reference(order)}


@bp.get("/pay/<order_id>/<token>")
def shared(order_id: str, token: str):
    """The payment page a rider shares: anyone with the link can pay the order by transfer
    (a parent, an employer); it shows nothing of the rider."""
    if not hmac.compare_digest(token.encode(), share_token(order_id).encode()):
        flask.abort(404, "no such payment page")
    session = db.get_session()
    order = orders.get(session, order_id)
    return flask.render_template("rider/shared.html", rider=None,
                                 order=orders.as_dict(session, order),
                                 transfer=_transfer(order))


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
        flask.flash(said(exc), "error")
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
        flask.flash(_("Order %(id)s is paid; pass %(pass_id)s is ready.", id=order.id,
                      pass_id=order.pass_id), "ok")
    elif fields.get("vnp_ResponseCode") not in (None, "00"):
        flask.flash(_("The payment did not go through; you may try again."), "error")
    else:
        flask.flash(_("Waiting for the payment gateway to confirm the payment."), "ok")
    return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id), 303)


@bp.post("/my/orders/<order_id>/refund")
@auth.require_rider
def ask_refund(order_id: str):
    """The rider asks for a refund; the policy sets the amount (shown before she asks)."""
    session = db.get_session()
    order = _own_order(order_id)
    try:
        done, published = actions.rider_refund(
            session, auth.caller().account_id, order.id, flask.request.form.get("reason", ""),
            now=clock.now(), redis_url=flask.current_app.config["REDIS_URL"],
            config=flask.current_app.config, ip=flask.request.remote_addr or "127.0.0.1")
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id),
                              303)
    flask.flash(_("%(amount)s refunded; pass %(pass_id)s is revoked.",
                  amount=i18n.money(done.refund_vnd, language.current()),
                  pass_id=done.pass_id), "ok")
    return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id), 303)


@bp.get("/my/orders/<order_id>/receipt")
@auth.require_rider
def receipt(order_id: str):
    """A printable receipt of a paid (or since refunded) order: the seller, what was
    bought, the amount and the VAT in it, how it was paid and the payment's reference."""
    session = db.get_session()
    order = _own_order(order_id)
    if order.status not in (orders.PAID, orders.REFUNDED):
        flask.abort(409, _("Order %(id)s is not paid: it has no receipt.", id=order.id))
    config = flask.current_app.config
    rate = config["VAT_PERCENT"]
    vat = round(order.price_vnd * rate / (100 + rate))
    return flask.render_template(
        "rider/receipt.html", rider=accounts.get(session, order.account_id),
        order=orders.as_dict(session, order), vat=vat, rate=rate,
        seller={"name": config["SELLER_NAME"], "tax_code": config["SELLER_TAX_CODE"],
                "address": config["SELLER_ADDRESS"]},
        method=order.provider)
