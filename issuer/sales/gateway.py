"""The card and e-wallet gateway, the issuer's side of VNPay's 2.1 protocol (signatures in
:mod:`shared.vnpay`). The issuer knows the gateway only by its URL, terminal code and hash
secret (settings GATEWAY_URL, GATEWAY_TMN_CODE, GATEWAY_HASH_SECRET).

- :func:`start`: the rider presses Pay; a signed redirect to the gateway for the order. A
  second press while the first attempt is open sends the same transaction again, so one
  order is never two gateway payments at once.
- :func:`ipn`: the gateway's server-to-server notification. Recorded before anything else
  (a database that is down answers 99, and the gateway calls again), checked, then settled
  (:mod:`issuer.sales.settlement`); answered with the protocol's RspCode and Message.
- :func:`returned`: the rider's browser comes back. Its fields are signed too, but what pays
  the order is the IPN, or, when none came, the gateway's own answer to ``querydr``.
- :func:`refund`: money given back through the gateway (the ``refund`` command).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform import ids
from issuer.platform.errors import Conflict, Invalid, NotReady, Word
from shared.i18n import N_
from issuer.platform.models import Order, Payment
from issuer.sales import orders, payments, settlement
from issuer.sales.reasons import Reason
from shared import clock, vnpay

log = logging.getLogger(__name__)

PROVIDER = payments.GATEWAY
ATTEMPT_MINUTES = 15  # vnp_ExpireDate: how long the gateway's payment page stays open
API_TIMEOUT = 10  # seconds for querydr and refund
MAX_ATTEMPTS = 99  # two digits after the order id in vnp_TxnRef

ANSWERS = {settlement.SETTLED: "00", settlement.DUPLICATE: "02", settlement.NOT_FOUND: "01",
           settlement.WRONG_AMOUNT: "04", settlement.NOT_PAYABLE: "02",
           settlement.DECLINED: "00"}


@dataclass(frozen=True)
class Gateway:
    url: str
    tmn_code: str
    secret: str

    @classmethod
    def from_config(cls, config) -> Gateway:
        url, tmn, secret = (config.get(k) for k in ("GATEWAY_URL", "GATEWAY_TMN_CODE",
                                                    "GATEWAY_HASH_SECRET"))
        if not (url and tmn and secret):
            raise NotReady(N_("card payments are not set up: set VEXE_GATEWAY_URL, "
                              "VEXE_GATEWAY_TMN_CODE and VEXE_GATEWAY_HASH_SECRET"))
        return cls(url.rstrip("/"), tmn, secret)

    @staticmethod
    def configured(config) -> bool:
        return all(config.get(k) for k in ("GATEWAY_URL", "GATEWAY_TMN_CODE",
                                           "GATEWAY_HASH_SECRET"))


def _stamp(at: float) -> str:
    """The protocol's times: yyyyMMddHHmmss, Hanoi time."""
    return dt.datetime.fromtimestamp(at, clock.HANOI).strftime("%Y%m%d%H%M%S")


def _order_of(reference: str) -> str | None:
    """The order a transaction reference names: the order id, then the attempt's number."""
    if len(reference) == ids.ID_LENGTH + 2 and reference[-2:].isdigit():
        return reference[:ids.ID_LENGTH]
    return None


# -- the rider pays -------------------------------------------------------------------------

def start(session: Session, gateway: Gateway, order_id: str, account_id: str, *,
          return_url: str, ip: str, now: float) -> str:
    """The gateway URL the rider's browser is sent to for ``order_id``; commits the attempt."""
    order = orders.get(session, order_id)
    orders.check_owner(order, account_id)
    if order.status == orders.PENDING and orders.is_expired(order, now):
        orders.expire_one(session, order, now=now)
        session.commit()
    if order.status != orders.PENDING:
        raise Conflict(N_("order %(id)s is %(status)s: only a pending order is paid"),
                       id=order.id, status=Word(order.status, "order"))
    attempt = _open_attempt(session, order, now)
    if attempt is None:
        made = session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
            Payment.order_id == order.id, Payment.provider == PROVIDER)) or 0
        if made >= MAX_ATTEMPTS:
            raise Conflict(N_("order %(id)s has had %(made)s card attempts: make a new order"),
                           id=order.id, made=made)
        attempt = Payment(provider=PROVIDER, reference=f"{order.id}{made + 1:02d}",
                          order_id=order.id, amount_vnd=order.price_vnd,
                          state=settlement.STARTED, created_at=int(now))
        session.add(attempt)
        session.commit()
    fields = {"vnp_Version": vnpay.VERSION, "vnp_Command": "pay",
              "vnp_TmnCode": gateway.tmn_code,
              "vnp_Amount": str(order.price_vnd * vnpay.AMOUNT_FACTOR), "vnp_CurrCode": "VND",
              "vnp_TxnRef": attempt.reference,
              "vnp_OrderInfo": f"Thanh toan don {order.id}", "vnp_OrderType": "other",
              "vnp_Locale": "vn", "vnp_ReturnUrl": return_url, "vnp_IpAddr": ip,
              "vnp_CreateDate": _stamp(attempt.created_at),
              "vnp_ExpireDate": _stamp(attempt.created_at + ATTEMPT_MINUTES * 60)}
    return f"{gateway.url}{vnpay.PAY_PATH}?{vnpay.signed_query(fields, gateway.secret)}"


def _open_attempt(session: Session, order: Order, now: float) -> Payment | None:
    """The attempt still open at the gateway, if any: pressing Pay again resumes it."""
    return session.scalar(sa.select(Payment).where(
        Payment.order_id == order.id, Payment.provider == PROVIDER,
        Payment.state == settlement.STARTED,
        Payment.created_at > int(now) - ATTEMPT_MINUTES * 60)
        .order_by(Payment.id.desc()).limit(1))


# -- the gateway tells us -------------------------------------------------------------------

def ipn(session: Session, gateway: Gateway, fields: dict[str, str], raw: str, *,
        now: float) -> tuple[str, str]:
    """The IPN's answer (RspCode, Message). A database error propagates: the view answers 99
    and the gateway calls again."""
    verified = (vnpay.check_query(fields, gateway.secret)
                and fields.get("vnp_TmnCode") == gateway.tmn_code)
    note = settlement.record(session, PROVIDER, "ipn", raw, signature_ok=verified,
                             provider_txn=fields.get("vnp_TransactionNo"), now=now)
    if not verified:
        settlement.note_outcome(session, note, Reason("bad_signature"))
        return "97", vnpay.IPN_ANSWERS["97"]
    notice = _notice(fields)
    if notice is None:
        settlement.note_outcome(session, note, Reason("bad_amount"))
        return "04", vnpay.IPN_ANSWERS["04"]
    code = ANSWERS[settlement.settle(session, notice, notification_id=note, now=now).result]
    return code, vnpay.IPN_ANSWERS[code]


def _notice(fields: dict[str, str]) -> settlement.Notice | None:
    raw_amount = fields.get("vnp_Amount", "")
    if not raw_amount.isdigit() or int(raw_amount) % vnpay.AMOUNT_FACTOR:
        return None
    reference = fields.get("vnp_TxnRef", "")[:100]
    succeeded = (fields.get("vnp_ResponseCode") == vnpay.SUCCESS
                 and fields.get("vnp_TransactionStatus") == vnpay.SUCCESS)
    txn = fields.get("vnp_TransactionNo") or None
    return settlement.Notice(PROVIDER, reference, _order_of(reference),
                             int(raw_amount) // vnpay.AMOUNT_FACTOR,
                             txn[:64] if succeeded and txn else None, succeeded=succeeded)


def returned(session: Session, gateway: Gateway, fields: dict[str, str], raw: str, *,
             ip: str, now: float) -> Order:
    """The rider is back from the gateway: the order, settled by ``querydr`` if the IPN has
    not come. The return's own fields pay nothing (a browser carries them)."""
    verified = (vnpay.check_query(fields, gateway.secret)
                and fields.get("vnp_TmnCode") == gateway.tmn_code)
    note = settlement.record(session, PROVIDER, "return", raw, signature_ok=verified,
                             provider_txn=fields.get("vnp_TransactionNo"), now=now)
    settlement.note_outcome(session, note, Reason("shown" if verified else "bad_signature"))
    if not verified:
        raise Invalid(N_("the gateway's answer is not signed by it: nothing was changed"))
    reference = fields.get("vnp_TxnRef", "")
    order = orders.get(session, _order_of(reference) or reference)
    if order.status == orders.PENDING:
        settle_by_query(session, gateway, reference, ip=ip, now=now)
        session.refresh(order)
    return order


# -- asking the gateway ---------------------------------------------------------------------

def _call(gateway: Gateway, body: dict, answer_fields: tuple[str, ...]) -> dict:
    """POST a merchant-API message; the answer, its signature checked."""
    try:
        response = requests.post(gateway.url + vnpay.API_PATH, json=body, timeout=API_TIMEOUT)
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise NotReady(N_("the payment gateway did not answer: %(problem)s"),
                       problem=str(exc)) from None
    if not isinstance(answer, dict) or not vnpay.check_api(answer, answer_fields,
                                                          gateway.secret):
        raise NotReady(N_("the payment gateway's answer is not signed by it"))
    return answer


def _request(gateway: Gateway, command: str, reference: str, created_at: int, ip: str,
             now: float) -> dict:
    return {"vnp_RequestId": secrets.token_hex(16), "vnp_Version": vnpay.VERSION,
            "vnp_Command": command, "vnp_TmnCode": gateway.tmn_code, "vnp_TxnRef": reference,
            "vnp_OrderInfo": f"{command} {reference}",
            "vnp_TransactionDate": _stamp(created_at), "vnp_CreateDate": _stamp(now),
            "vnp_IpAddr": ip}


def settle_by_query(session: Session, gateway: Gateway, reference: str, *, ip: str,
                    now: float) -> settlement.Outcome | None:
    """Ask the gateway (``querydr``) how transaction ``reference`` stands and settle it if it
    went through; None if it has not (yet)."""
    attempt = session.scalar(sa.select(Payment).where(Payment.provider == PROVIDER,
                                                      Payment.reference == reference))
    if attempt is None:
        raise Invalid(N_("no card payment %(reference)s was started here"),
                      reference=repr(reference))
    body = _request(gateway, "querydr", reference, attempt.created_at, ip, now)
    body[vnpay.HASH_FIELD] = vnpay.sign_api(body, vnpay.QUERY_REQUEST, gateway.secret)
    answer = _call(gateway, body, vnpay.QUERY_ANSWER)
    raw = urlencode(sorted((k, str(v)) for k, v in answer.items()))
    note = settlement.record(session, PROVIDER, "querydr", raw, signature_ok=True,
                             provider_txn=str(answer.get("vnp_TransactionNo") or "") or None,
                             now=now)
    if answer.get("vnp_ResponseCode") != vnpay.SUCCESS:
        settlement.note_outcome(session, note, Reason(
            "gateway_answered", answer=str(answer.get("vnp_ResponseCode")),
            message=str(answer.get("vnp_Message"))[:150]))
        return None
    status = answer.get("vnp_TransactionStatus")
    if status != vnpay.SUCCESS:  # 01: not paid yet, the payer may still be there; 02: failed
        settlement.note_outcome(session, note, Reason("not_paid", status=str(status)))
        return None
    notice = _notice({k: str(v) for k, v in answer.items()} | {
        "vnp_ResponseCode": vnpay.SUCCESS})
    if notice is None:
        settlement.note_outcome(session, note, Reason("bad_amount"))
        return None
    return settlement.settle(session, notice, notification_id=note, now=now)


def refund(gateway: Gateway, payment: Payment, amount_vnd: int, *, by: str, ip: str,
           now: float) -> dict:
    """Give ``amount_vnd`` of a card payment back through the gateway; the signed answer.
    Conflict when the gateway refuses."""
    if payment.provider != PROVIDER or not payment.provider_txn:
        raise Invalid(N_("payment %(id)s was not made through the card gateway"), id=payment.id)
    if not 0 < amount_vnd <= payment.amount_vnd:
        raise Invalid(N_("a refund is 1 to %(most)s VND of payment %(id)s"),
                      most=payment.amount_vnd, id=payment.id)
    body = _request(gateway, "refund", payment.reference, payment.created_at, ip, now)
    body.update({"vnp_TransactionType": "02" if amount_vnd == payment.amount_vnd else "03",
                 "vnp_Amount": str(amount_vnd * vnpay.AMOUNT_FACTOR),
                 "vnp_TransactionNo": payment.provider_txn, "vnp_CreateBy": by[:100]})
    body[vnpay.HASH_FIELD] = vnpay.sign_api(body, vnpay.REFUND_REQUEST, gateway.secret)
    answer = _call(gateway, body, vnpay.REFUND_ANSWER)
    if answer.get("vnp_ResponseCode") != vnpay.SUCCESS:
        raise Conflict(N_("the gateway refused the refund: %(code)s %(said)s"),
                       code=answer.get("vnp_ResponseCode"), said=answer.get("vnp_Message"))
    return answer
