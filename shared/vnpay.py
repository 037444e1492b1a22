"""VNPay's payment protocol, version 2.1.0: the signatures both sides compute.

The issuer (issuer.sales.gateway) and the development gateway (gateway/) both sign and check
with these functions, so they agree byte for byte; what each side sends is written where it
sends it.

- A payment redirect, its return to the merchant and the IPN carry their fields in a query
  string, signed in ``vnp_SecureHash``: HMAC-SHA512 with the terminal's hash secret, in hex,
  over the ``vnp_`` fields other than the hash itself, sorted by name, each name and value
  form-encoded (a space is ``+``) and joined ``name=value`` with ``&``.
- The merchant API (``querydr``, ``refund``) is JSON; its ``vnp_SecureHash`` is HMAC-SHA512
  over named fields' values joined with ``|``, in an order fixed per message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote_plus

VERSION = "2.1.0"
HASH_FIELD = "vnp_SecureHash"
HASH_TYPE_FIELD = "vnp_SecureHashType"  # sent by some clients, never signed
PAY_PATH = "/paymentv2/vpcpay.html"
API_PATH = "/merchant_webapi/api/transaction"
AMOUNT_FACTOR = 100  # vnp_Amount is the amount in dong times 100

# The order of the fields each merchant-API message signs.
QUERY_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
                 "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
QUERY_ANSWER = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message",
                "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate",
                "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
                "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount")
REFUND_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode",
                  "vnp_TransactionType", "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo",
                  "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr",
                  "vnp_OrderInfo")
REFUND_ANSWER = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message",
                 "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate",
                 "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
                 "vnp_OrderInfo")

# The merchant's answers to an IPN: the gateway calls again until it reads 00 or 02.
IPN_ANSWERS = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}
IPN_FINAL = ("00", "02")  # what stops the gateway's retries

SUCCESS = "00"  # vnp_ResponseCode and vnp_TransactionStatus of a payment that went through
CANCELLED_BY_PAYER = "24"  # vnp_ResponseCode: the payer cancelled at the gateway


def _hmac(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def query_data(fields: Mapping[str, str]) -> str:
    """The text a query's signature covers: the ``vnp_`` fields but the hash, sorted,
    form-encoded."""
    signed = sorted((k, v) for k, v in fields.items()
                    if k.startswith("vnp_") and k not in (HASH_FIELD, HASH_TYPE_FIELD)
                    and v != "")
    return "&".join(f"{quote_plus(k)}={quote_plus(str(v))}" for k, v in signed)


def sign_query(fields: Mapping[str, str], secret: str) -> str:
    return _hmac(secret, query_data(fields))


def signed_query(fields: Mapping[str, str], secret: str) -> str:
    """The query string to send: the fields sorted and encoded, then their hash."""
    data = query_data(fields)
    return f"{data}&{HASH_FIELD}={_hmac(secret, data)}"


def check_query(fields: Mapping[str, str], secret: str) -> bool:
    """The received query's hash is the one ``secret`` makes (compared in constant time)."""
    given = fields.get(HASH_FIELD, "")
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.lower(), sign_query(fields, secret))


def sign_api(fields: Mapping[str, object], order: Sequence[str], secret: str) -> str:
    """The hash of a merchant-API message: its ``order`` fields' values joined with ``|``
    (a missing field counts as empty)."""
    return _hmac(secret, "|".join("" if fields.get(k) is None else str(fields[k])
                                  for k in order))


def check_api(fields: Mapping[str, object], order: Sequence[str], secret: str) -> bool:
    given = fields.get(HASH_FIELD)
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.lower(), sign_api(fields, order, secret))
