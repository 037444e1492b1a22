"""VNPay 2.1 signatures (shared/vnpay.py), against the canonical text written out by hand:
the fields sorted by name, form-encoded (a space is +), the hash fields and empty values
left out; merchant-API messages joined with | in their fixed order."""

from __future__ import annotations

import hashlib
import hmac

from shared import vnpay

SECRET = "SECRETKEYFORTESTS"


def mac(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha512).hexdigest()


def test_a_query_is_signed_over_its_sorted_form_encoded_fields():
    fields = {"vnp_TxnRef": "ABC01", "vnp_Amount": "20000000",
              "vnp_OrderInfo": "Thanh toan don ABC/01 & more", "vnp_Locale": "",
              "vnp_SecureHashType": "HmacSHA512", "other": "ignored"}
    canonical = ("vnp_Amount=20000000&vnp_OrderInfo=Thanh+toan+don+ABC%2F01+%26+more"
                 "&vnp_TxnRef=ABC01")
    assert vnpay.query_data(fields) == canonical
    assert vnpay.sign_query(fields, SECRET) == mac(canonical)
    signed = vnpay.signed_query(fields, SECRET)
    assert signed == f"{canonical}&vnp_SecureHash={mac(canonical)}"


def test_a_query_checks_only_with_its_own_hash_and_secret():
    fields = {"vnp_Amount": "100", "vnp_TxnRef": "X"}
    good = {**fields, "vnp_SecureHash": vnpay.sign_query(fields, SECRET)}
    assert vnpay.check_query(good, SECRET)
    assert vnpay.check_query({**good, "vnp_SecureHash": good["vnp_SecureHash"].upper()},
                             SECRET)  # hex in either case, as gateways send it
    assert not vnpay.check_query(good, SECRET + "x")
    assert not vnpay.check_query({**good, "vnp_Amount": "101"}, SECRET)
    assert not vnpay.check_query(fields, SECRET)  # no hash at all


def test_a_merchant_api_message_is_signed_over_its_fields_joined_with_bars():
    body = {name: f"v{i}" for i, name in enumerate(vnpay.QUERY_REQUEST)}
    body["vnp_OrderInfo"] = None  # missing counts as empty
    canonical = "|".join(f"v{i}" for i in range(len(vnpay.QUERY_REQUEST) - 1)) + "|"
    assert vnpay.sign_api(body, vnpay.QUERY_REQUEST, SECRET) == mac(canonical)
    body[vnpay.HASH_FIELD] = mac(canonical)
    assert vnpay.check_api(body, vnpay.QUERY_REQUEST, SECRET)
    assert not vnpay.check_api({**body, "vnp_TxnRef": "other"}, vnpay.QUERY_REQUEST, SECRET)
