"""``/api/payments``: what payment gateways and banks call. No caller identity: what they
send is trusted only as far as its signature holds, and every call is recorded first
(issuer.sales.settlement).

``GET /api/payments/vnpay/ipn``: the card gateway's IPN (VNPay 2.1). The answer is always
200 with the protocol's ``RspCode`` and ``Message``; anything but 00 or 02 makes the gateway
call again, which is what a database that is down must get: 99, nothing acknowledged.
"""

from __future__ import annotations

import logging

import flask
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.errors import IssuerError, NotReady
from issuer.sales import gateway
from shared import clock, vnpay

log = logging.getLogger(__name__)

bp = flask.Blueprint("payments", __name__, url_prefix="/api/payments")


def _unknown_error() -> dict:
    return {"RspCode": "99", "Message": vnpay.IPN_ANSWERS["99"]}


@bp.get("/vnpay/ipn")
def vnpay_ipn():
    try:
        card_gateway = gateway.Gateway.from_config(flask.current_app.config)
    except NotReady:
        return _unknown_error()  # no gateway here: nothing could have been paid through it
    session = db.get_session()
    fields = {k: v for k, v in flask.request.args.items() if isinstance(v, str)}
    raw = flask.request.query_string.decode("utf-8", "replace")
    try:
        code, message = gateway.ipn(session, card_gateway, fields, raw, now=clock.now())
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        log.exception("IPN not settled: the database failed; the gateway will call again")
        _roll_back(session)
        return _unknown_error()
    except IssuerError:  # recorded, but the pass could not be issued: a clerk looks
        log.exception("IPN recorded but not settled")
        _roll_back(session)
        return _unknown_error()
    return {"RspCode": code, "Message": message}


def _roll_back(session) -> None:
    try:
        session.rollback()
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        pass
