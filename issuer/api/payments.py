"""``/api/payments``: what payment gateways and banks call. No caller identity: what they
send is trusted only as far as its signature holds, and every call is recorded first
(issuer.sales.settlement).

``POST /api/payments/bank-notifications``: the bank-statement service's webhook for VietQR
transfers (issuer.sales.bank), signed with HMAC-SHA256 over a timestamp and the body.

``GET /api/payments/vnpay/ipn``: the card gateway's IPN (VNPay 2.1). The answer is always
200 with the protocol's ``RspCode`` and ``Message``; anything but 00 or 02 makes the gateway
call again, which is what a database that is down must get: 99, nothing acknowledged.
"""

from __future__ import annotations

import logging

import flask
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.errors import Forbidden, Invalid, IssuerError, NotReady
from shared.i18n import N_
from issuer.sales import bank, gateway
from shared import clock, vnpay

log = logging.getLogger(__name__)

MAX_FIELD = 255  # characters of any field; the protocol's longest (vnp_OrderInfo) is 255

bp = flask.Blueprint("payments", __name__, url_prefix="/api/payments")


def _unknown_error() -> dict:
    return {"RspCode": "99", "Message": vnpay.IPN_ANSWERS["99"]}


@bp.get("/vnpay/ipn")
def vnpay_ipn():
    fields = {k: v for k, v in flask.request.args.items() if isinstance(v, str)}
    too_long = sorted(k for k, v in fields.items() if len(v) > MAX_FIELD)
    if too_long:  # no gateway sends these: refused, not acknowledged, nothing to record
        raise Invalid(N_("fields longer than %(most)s characters: %(fields)s"), most=MAX_FIELD,
                      fields=", ".join(too_long))
    try:
        card_gateway = gateway.Gateway.from_config(flask.current_app.config)
    except NotReady:
        return _unknown_error()  # no gateway here: nothing could have been paid through it
    session = db.get_session()
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


@bp.post("/bank-notifications")
def bank_notification():
    """A bank-statement notification (issuer.sales.bank): 200 with what it came to (paid,
    duplicate, held and why, or ignored); 403 a bad signature or stale timestamp; 409 a
    replay; 400 not a credit notification; 503 when the database is down (the service sends
    it again)."""
    if not bank.Account.configured(flask.current_app.config):
        raise Forbidden(N_("bank transfers are not set up here: nothing is paid by transfer"))
    account = bank.Account.from_config(flask.current_app.config)
    session = db.get_session()
    outcome = bank.notified(session, account, flask.request.get_data(cache=True),
                            timestamp=flask.request.headers.get(bank.TIMESTAMP_HEADER),
                            signature=flask.request.headers.get(bank.SIGNATURE_HEADER),
                            now=clock.now())
    if isinstance(outcome, str):
        return {"outcome": outcome, "detail": "not money coming in", "payment_id": None}
    return {"outcome": outcome.result, "detail": outcome.detail,
            "payment_id": outcome.payment_id}
