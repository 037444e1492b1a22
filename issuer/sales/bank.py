"""VietQR bank transfers: the order's payment QR, and the bank's notification that money came.

The QR is a dynamic VietQR (NAPAS 247, EMVCo merchant-presented): the operator's bank BIN and
account, the exact amount in dong, currency 704, and the order's reference in the additional
data, which bank apps put in the transfer's description. Anyone can pay it from any bank app.

The bank-statement notification service (the shape of the Vietnamese services that watch an
account, one JSON object per credit) calls ``POST /api/payments/bank-notifications`` with
``X-Bank-Timestamp`` (Unix seconds) and ``X-Bank-Signature`` (``sha256=`` and the hex
HMAC-SHA256, with the webhook secret, of the timestamp, a dot and the body as sent). A
timestamp more than :data:`MAX_SKEW` away is refused, a signature seen before is a replay,
and the bank's transaction id makes a second delivery of one transfer change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Session
from vietnam_qr_pay import QRPay

from issuer.platform.errors import Forbidden, Invalid, NotReady
from shared.i18n import N_
from issuer.platform.models import Order, PaymentNotification
from issuer.sales import payments, settlement
from issuer.sales.reasons import Reason
from shared import jsonbody

PROVIDER = payments.BANK
PREFIX = "VX"  # before the order id in a transfer's description: "VX7K3M9QX2TB"
MAX_SKEW = 300  # seconds: an older (or later) timestamp is refused
TIMESTAMP_HEADER = "X-Bank-Timestamp"
SIGNATURE_HEADER = "X-Bank-Signature"
# Crockford's base32, as order ids are written; the bank may have upper-cased or split it.
_REFERENCE = re.compile(PREFIX + r"([0-9A-HJKMNP-TV-Z]{10})")


class Credit(msgspec.Struct, forbid_unknown_fields=False):
    """One bank-account movement as the notification service sends it. Fields the issuer
    does not use are ignored (the service adds some over time); none names the payer's
    account."""

    id: int | str  # the bank's transaction id: one payment per id
    transferType: str  # "in" or "out"
    transferAmount: int
    content: str  # the transfer's description, the reference in it
    accountNumber: str  # the operator's account it moved on
    gateway: str = ""  # the bank's name
    transactionDate: str = ""
    referenceCode: str = ""


@dataclass(frozen=True)
class Account:
    bin: str
    number: str
    name: str
    secret: str | None

    @classmethod
    def from_config(cls, config) -> Account:
        bin_, number, name = (config.get(k) for k in ("BANK_BIN", "BANK_ACCOUNT",
                                                      "BANK_ACCOUNT_NAME"))
        if not (bin_ and number and name):
            raise NotReady(N_("bank transfers are not set up: set VEXE_BANK_BIN, "
                              "VEXE_BANK_ACCOUNT and VEXE_BANK_ACCOUNT_NAME"))
        return cls(bin_, number, name, config.get("BANK_WEBHOOK_SECRET"))

    @staticmethod
    def configured(config) -> bool:
        return all(config.get(k) for k in ("BANK_BIN", "BANK_ACCOUNT", "BANK_ACCOUNT_NAME"))


def reference(order: Order) -> str:
    return PREFIX + order.id


def order_of(content: str) -> tuple[str, str | None]:
    """The reference found in a transfer's description and the order id it names (None
    when none is there): bank apps may upper-case it or cut it with spaces and dashes."""
    squeezed = re.sub(r"[^0-9A-Z]", "", content.upper())
    found = _REFERENCE.search(squeezed)
    if found is None:
        return content.strip()[:100] or "(empty)", None
    return found.group(0), found.group(1)


def _ascii(text: str, limit: int) -> str:
    """The account name as VietQR carries it: no diacritics, upper case."""
    plain = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if c.isascii() and not unicodedata.combining(c)
                   ).upper()[:limit]


def qr_text(account: Account, order: Order) -> str:
    """The order's VietQR text: account, exact amount, currency 704, reference."""
    code = QRPay.init_viet_qr(bank_bin=account.bin, bank_number=account.number,
                              amount=str(order.price_vnd), purpose=reference(order))
    code.merchant.name = _ascii(account.name, 25)
    return code.build()


# -- the bank tells us ----------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _verdict(account: Account, timestamp: str | None, signature: str | None, body: bytes,
             now: float) -> Forbidden | None:
    """Why the notification is refused, or None if its signature and time hold."""
    if not account.secret:
        return Forbidden(N_("no webhook secret is set: every notification is refused"))
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return Forbidden(N_("%(header)s must be Unix seconds"), header=TIMESTAMP_HEADER)
    if abs(int(timestamp) - now) > MAX_SKEW:
        return Forbidden(N_("the timestamp is more than %(most)s seconds from now: refused"),
                         most=MAX_SKEW)
    expected = sign(account.secret, timestamp, body)
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        return Forbidden(N_("the signature does not hold"))
    return None


def notified(session: Session, account: Account, body: bytes, *, timestamp: str | None,
             signature: str | None, now: float) -> settlement.Outcome | str:
    """Record the notification, then check and settle it. The outcome of a settlement, or
    the word for one that settled nothing ("outgoing"). Raises Forbidden (bad signature or
    time), Invalid (not a credit notification) or Conflict-like Replay after recording it.
    A database error propagates: the service is answered 5xx and sends it again."""
    text = _kept(body)
    refused = _verdict(account, timestamp, signature, body, now)
    note = settlement.record(session, PROVIDER, "webhook", text, signature_ok=refused is None,
                             provider_txn=None, now=now)
    if refused is not None:
        settlement.note_outcome(session, note, Reason("refused", error=refused))
        raise refused
    if not _claim_signature(session, note, signature):
        settlement.note_outcome(session, note, Reason("replay"))
        raise Replay(N_("this notification was delivered before: a replay is refused"))
    try:
        credit = msgspec.json.decode(body, type=Credit)
    except msgspec.ValidationError as exc:
        settlement.note_outcome(session, note, Reason("refused", error=str(exc)))
        raise Invalid(N_("not a bank credit notification: %(problem)s"), problem=str(exc)) from None
    except msgspec.DecodeError:
        settlement.note_outcome(session, note, Reason("not_json"))
        raise Invalid(N_("not a bank credit notification: the body is not JSON")) from None
    for name in ("id", "gateway", "transactionDate", "accountNumber", "content",
                 "transferType", "referenceCode"):
        value = getattr(credit, name)
        problem = jsonbody.text_problem(value) if isinstance(value, str) else None
        if problem:
            settlement.note_outcome(session, note, Reason("not_text", field=name))
            raise Invalid(N_("not a bank credit notification: %(field)s is not text: %(problem)s"),
                          field=name, problem=problem)
    txn = str(credit.id)[:64]
    session.execute(sa.update(PaymentNotification).where(PaymentNotification.id == note)
                    .values(provider_txn=txn))
    session.commit()
    if credit.accountNumber != account.number:
        settlement.note_outcome(session, note, Reason("other_account"))
        raise Invalid(N_("the notification is for another account"))
    if credit.transferType != "in" or credit.transferAmount <= 0:
        settlement.note_outcome(session, note, Reason("outgoing"))
        return "outgoing"
    ref, order_id = order_of(credit.content)
    notice = settlement.Notice(PROVIDER, ref, order_id, credit.transferAmount, txn)
    return settlement.settle(session, notice, notification_id=note, now=now)


def _kept(body: bytes) -> str:
    """What is recorded of a notification: the body as sent, except that an account number
    other than the operator's own (a service may name the payer's) keeps its last four
    digits only. The signature was checked on the body as sent, before this."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    for key, value in data.items():
        if (key != "accountNumber" and "account" in key.lower() and isinstance(value, str)
                and len(value) > 4):
            data[key] = "*" * (len(value) - 4) + value[-4:]
    kept = json.dumps(data, ensure_ascii=False)
    # A lone surrogate ("\\ud800" in the JSON) has no UTF-8: keep it escaped, as it came.
    return kept if jsonbody.text_problem(kept) is None else json.dumps(data)


class Replay(Forbidden):
    """The same signed notification again."""

    status = 409


def _claim_signature(session: Session, note: int, signature: str) -> bool:
    """Mark this signature taken (a unique index): False if another notification has it."""
    try:
        session.execute(sa.update(PaymentNotification).where(PaymentNotification.id == note)
                        .values(signature=signature[:128]))
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        return False
    return True
