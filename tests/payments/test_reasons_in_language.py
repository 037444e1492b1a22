"""What the payment services write about money (why a payment is held, a refund owed, what a
notification came to) is read in the page's language on the console, while the database, the
API and the CSV keep the English sentence (issuer.sales.reasons)."""

from __future__ import annotations

import csv
import html
import io

import sqlalchemy as sa

from issuer.platform.models import Payment
from shared import clock, vnpay
from tests.payments.conftest import HASH_SECRET, TMN_CODE
from tests.payments.test_bank_transfers import credit, notify
from tests.payments.test_card_payments import ipn
from tests.payments.test_refunds import ask


def short_transfer(shop) -> tuple[str, Payment]:
    """150,000 đồng transferred for a 200,000 đồng order: held for a clerk."""
    order_id = shop.order(shop.rider())
    answer = notify(shop, credit(id="FT-SHORT", content=f"VX{order_id}",
                                 transferAmount=150_000))
    english = f"150000 VND paid for order {order_id}, whose price is 200000 VND"
    assert answer.status_code == 200 and answer.json()["detail"] == english  # the API's
    [held] = shop.payments(order_id)
    assert held.state == "held" and held.reason == english  # the record
    assert held.reason_args["code"] == "wrong_amount"
    return order_id, held


def held_page(shop, clerk) -> str:
    return html.unescape(clerk.get(f"{shop.issuer.url}/console/payments/", timeout=10).text)


def test_why_money_is_held_reads_in_the_pages_language(shop):
    order_id, _ = short_transfer(shop)
    clerk = shop.clerk()
    vietnamese = held_page(shop, clerk)
    assert (f"đã trả 150.000 ₫ cho đơn hàng {order_id}, trong khi giá của đơn là 200.000 ₫"
            in vietnamese)
    assert "whose price" not in vietnamese
    clerk.cookies.set("vexe_lang", "en")
    assert f"150,000 ₫ paid for order {order_id}, whose price is 200,000 ₫" in held_page(shop,
                                                                                       clerk)


def test_the_rider_reads_on_her_order_why_her_money_is_held(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-SHORT-RIDER", content=f"VX{order_id}", transferAmount=150_000))
    page = html.unescape(rider.get(f"{shop.issuer.url}/my/orders/{order_id}", timeout=10).text)
    assert (f"đã trả 150.000 ₫ cho đơn hàng {order_id}, trong khi giá của đơn là 200.000 ₫; "
            "nhân viên sẽ ghi vào đơn hoặc hoàn lại") in page


def test_a_reason_written_before_the_codes_is_shown_as_it_was_written(shop):
    _, held = short_transfer(shop)
    clerk = shop.clerk()
    for args in (None, {"code": "a code this version does not know"}):
        with shop.engine.begin() as conn:
            conn.execute(sa.update(Payment).where(Payment.id == held.id)
                         .values(reason="an old sentence", reason_args=args))
        assert "an old sentence" in held_page(shop, clerk)


def test_a_refund_owed_and_its_transfer_read_in_vietnamese(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-PAID", content=f"VX{order_id}"))
    shop.wait_paid(order_id)
    ask(shop, rider, order_id)
    [owed] = shop.payments(order_id)
    amount = shop.order_row(order_id).refund_vnd
    said = f"{amount:,}".replace(",", ".") + " ₫"
    clerk = shop.clerk()
    assert (f"cần chuyển khoản trả lại {said} cho người trả tiền; nhân viên ghi nhận khi đã "
            "chuyển") in held_page(shop, clerk)
    done = shop.console_post(clerk, f"/console/payments/{owed.id}/transferred",
                             note="FT-BACK-1")
    assert "— đã chuyển khoản: FT-BACK-1" in html.unescape(done.text)
    [row] = shop.payments(order_id)
    assert row.reason == (f"{amount} VND to transfer back to the payer; a clerk records the "
                          "transfer — transferred: FT-BACK-1")


def test_the_reconciliation_reads_in_vietnamese_and_its_csv_stays_english(shop):
    order_id, held = short_transfer(shop)
    forged = notify(shop, credit(id="FT-FORGED", content=f"VX{order_id}"), signature="00" * 32)
    assert forged.status_code == 403
    assert ipn(shop, vnp_TxnRef=f"{order_id}01", vnp_SecureHash="00" * 64)["RspCode"] == "97"
    day = clock.iso(clock.now())[:10]
    clerk = shop.clerk()
    page = html.unescape(clerk.get(f"{shop.issuer.url}/console/payments/reconcile",
                                   params={"date": day}, timeout=10).text)
    assert f"khoản thanh toán {held.id} bị giữ lại" in page
    assert f"mã VX{order_id}: đã trả 150.000 ₫ cho đơn hàng {order_id}" in page
    assert "bị từ chối: chữ ký không hợp lệ" in page and "refused" not in page
    exported = clerk.get(f"{shop.issuer.url}/console/payments/reconcile",
                         params={"date": day, "format": "csv"}, timeout=10).text
    lines = {r["item"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert lines[f"payment {held.id} held"]["detail"] == f"VX{order_id}: {held.reason}"
    refused = [r["detail"] for item, r in lines.items() if item.endswith(": bad signature")]
    assert sorted(refused) == ["refused: the signature does not hold"] * 2


def test_what_the_gateway_answered_a_return_is_recorded_with_its_code(shop):
    """The rider comes back signed by the gateway for a payment the gateway then does not
    find (querydr answers 91): the notification's outcome is kept in English and by code."""
    rider = shop.rider()
    order_id = shop.order(rider)
    assert shop.press_pay(rider, order_id).status_code == 303  # the gateway's page not opened
    query = vnpay.signed_query({"vnp_TmnCode": TMN_CODE, "vnp_TxnRef": f"{order_id}01",
                                "vnp_ResponseCode": "24", "vnp_TransactionStatus": "02",
                                "vnp_Amount": "20000000"}, HASH_SECRET)
    back = rider.get(f"{shop.issuer.url}/my/payments/card/return?{query}",
                     allow_redirects=False, timeout=30)
    assert back.status_code == 303
    shown, asked = shop.notifications()
    assert shown.outcome == "shown to the rider" and shown.outcome_args["code"] == "shown"
    assert asked.outcome == "gateway answered 91: Transaction not found"
    assert asked.outcome_args == {"code": "gateway_answered",
                                  "values": {"answer": "91", "message": "Transaction not found"}}
