"""Paying by VietQR bank transfer: the order's QR (NAPAS 247, EMVCo) and its text, the page a
rider shares, and the bank's signed notification: each rule of the webhook through HTTP, and
`vexe bank notify` as a tester sends one."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from vietnam_qr_pay import QRPay

from issuer.sales import bank
from tests.payments.conftest import BANK
from vexe.cli import main

SECRET = BANK["BANK_WEBHOOK_SECRET"]
PATH = "/api/payments/bank-notifications"


def credit(**fields) -> dict:
    body = {"id": 900001, "gateway": "Vietcombank", "transactionDate": "2026-12-03 10:00:00",
            "accountNumber": BANK["BANK_ACCOUNT"], "content": "", "transferType": "in",
            "transferAmount": 200_000, "referenceCode": "FT1", "description": ""}
    body.update(fields)
    return body


def notify(shop, body: dict | bytes, *, at: float | None = None, secret: str = SECRET,
           signature: str | None = None) -> requests.Response:
    """Post a notification as the bank's service does, signed unless told otherwise."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time() if at is None else at))
    return requests.post(shop.issuer.url + PATH, data=raw, timeout=10, headers={
        "Content-Type": "application/json", bank.TIMESTAMP_HEADER: stamp,
        bank.SIGNATURE_HEADER: signature or bank.sign(secret, stamp, raw)})


def order_page(shop, rider, order_id: str) -> str:
    return rider.get(f"{shop.issuer.url}/my/orders/{order_id}", timeout=10).text


class TestTheQr:
    def test_the_order_shows_a_vietqr_for_the_exact_amount_and_its_text(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        page = order_page(shop, rider, order_id)
        text = re.search(r'data-text="([^"]+)"', page).group(1)
        parsed = QRPay(text)
        assert parsed.is_valid
        assert parsed.consumer.bank_bin == "970436"
        assert parsed.consumer.bank_number == BANK["BANK_ACCOUNT"]
        assert parsed.amount == "200000" and parsed.currency == "704"
        assert parsed.additional_data.purpose == f"VX{order_id}"
        png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
        import base64
        import io
        [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(png))))
        assert found.text == text  # the image draws exactly that text
        for shown in (f"VX{order_id}", BANK["BANK_ACCOUNT"], "200000",
                      "Ai cũng có thể trả đơn này"):
            assert shown in page

    def test_the_shared_page_shows_the_transfer_to_anyone_and_nothing_of_the_rider(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        link = re.search(r'id="share-link" href="([^"]+)"', order_page(shop, rider, order_id))
        stranger = requests.get(link.group(1), timeout=10)
        assert stranger.status_code == 200 and f"VX{order_id}" in stranger.text
        assert "Nguyễn Văn An" not in stranger.text
        forged = requests.get(f"{shop.issuer.url}/pay/{order_id}/AAAAAAAAAAAAAAAAAAAAAA",
                              timeout=10)
        assert forged.status_code == 404


class TestTheWebhook:
    def test_vexe_bank_notify_pays_the_order(self, shop, monkeypatch):
        rider = shop.rider()
        order_id = shop.order(rider)
        for name, value in BANK.items():
            monkeypatch.setenv(f"VEXE_{name}", value)
        result = CliRunner().invoke(main, ["bank", "notify", "--reference",
                                           f"chuyen tien vx {order_id[:4]} {order_id[4:]}",
                                           "--amount", "200000", "--txn-id", "FT100",
                                           "--url", shop.issuer.url])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["outcome"] == "paid"
        paid = shop.order_row(order_id)
        assert paid.status == "paid" and paid.pass_id and paid.provider == "vietqr"
        assert 'id="status" data-status="paid">đã thanh toán<' in order_page(shop, rider, order_id)

    def test_the_same_transaction_twice_pays_once(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        body = credit(id="FT200", content=f"VX{order_id}")
        assert notify(shop, body).json()["outcome"] == "paid"
        again = notify(shop, body, at=time.time() + 1)  # a new delivery, signed anew
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
        assert [p.state for p in shop.payments()] == ["paid"]

    def test_a_replay_is_refused_and_recorded(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        at = time.time()
        assert notify(shop, credit(id="FT300", content=f"VX{order_id}"), at=at).status_code == 200
        replay = notify(shop, credit(id="FT300", content=f"VX{order_id}"), at=at)
        assert replay.status_code == 409 and "replay" in replay.json()["error"]
        assert [n.outcome.split(":")[0] for n in shop.notifications()] == ["paid", "refused"]

    @pytest.mark.parametrize("skew", [-310, 310])  # past the 300 s window, whatever the rounding
    def test_a_stale_or_future_timestamp_is_refused(self, shop, skew):
        refused = notify(shop, credit(content="VX0000000000"), at=time.time() + skew)
        assert refused.status_code == 403 and "timestamp" in refused.json()["error"]
        [note] = shop.notifications()
        assert not note.signature_ok and shop.payments() == []

    @pytest.mark.parametrize("text", ["VX\u0000", "VX\ud800"])
    def test_a_signed_notification_holding_text_that_is_not_text_is_no_500(self, shop, text):
        """A NUL (PostgreSQL text holds none) or a lone surrogate in a signed notification:
        refused or held, never a server error, and the issuer still takes the next one."""
        raw = json.dumps(credit(id=900777, content=text)).encode()  # ASCII escapes, as sent
        answer = notify(shop, raw)
        assert answer.status_code < 500, answer.text
        assert shop.payments() == [] or all(p.order_id is None for p in shop.payments())
        again = notify(shop, credit(id=900778, content="VX0000000000"))
        assert again.status_code < 500, again.text

    @pytest.mark.parametrize("how", ["secret", "signature", "body"])
    def test_a_bad_signature_is_refused_and_recorded(self, shop, how):
        body = credit(content="VX0000000000")
        if how == "secret":
            refused = notify(shop, body, secret="not-the-secret")
        elif how == "signature":
            refused = notify(shop, body, signature="sha256=" + "0" * 64)
        else:  # signed, then changed on the way
            stamp = str(int(time.time()))
            raw = json.dumps(body).encode()
            refused = requests.post(shop.issuer.url + PATH, timeout=10,
                                    data=raw.replace(b"200000", b"900000"), headers={
                                        bank.TIMESTAMP_HEADER: stamp,
                                        bank.SIGNATURE_HEADER: bank.sign(SECRET, stamp, raw)})
        assert refused.status_code == 403 and "signature" in refused.json()["error"]
        [note] = shop.notifications()
        assert not note.signature_ok and note.outcome.startswith("refused")
        assert shop.payments() == []

    def test_a_short_payment_is_held(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        held = notify(shop, credit(id="FT400", content=f"VX{order_id}", transferAmount=199_000))
        assert held.json()["outcome"] == "wrong_amount"
        assert shop.order_row(order_id).status == "pending"
        [payment] = shop.payments(order_id)
        assert payment.state == "held" and payment.amount_vnd == 199_000

    def test_an_over_payment_is_held(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        held = notify(shop, credit(id="FT401", content=f"VX{order_id}", transferAmount=200_001))
        assert held.json()["outcome"] == "wrong_amount"
        assert shop.order_row(order_id).status == "pending"

    def test_a_transfer_naming_no_order_is_held(self, shop):
        held = notify(shop, credit(id="FT500", content="tien ve thang 12"))
        assert held.json()["outcome"] == "not_found"
        [payment] = shop.payments()
        assert payment.state == "held" and payment.order_id is None

    def test_money_going_out_is_recorded_and_ignored(self, shop):
        answer = notify(shop, credit(id="FT600", transferType="out", content="VX0000000000"))
        assert answer.json()["outcome"] == "outgoing" and shop.payments() == []
        assert shop.notifications()[0].outcome.startswith("ignored")

    def test_another_account_and_a_body_that_is_no_credit_are_refused(self, shop):
        other = notify(shop, credit(id="FT700", accountNumber="999"))
        assert other.status_code == 400 and "another account" in other.json()["error"]
        broken = notify(shop, b'{"id": 1}')
        assert broken.status_code == 400 and "not a bank credit" in broken.json()["error"]
        assert shop.payments() == [] and len(shop.notifications()) == 2


def test_a_payers_account_number_is_not_kept(shop):
    """A service that names the payer's account: the record keeps its last four digits."""
    rider = shop.rider()
    order_id = shop.order(rider)
    answer = notify(shop, credit(id="FT800", content=f"VX{order_id}",
                                 counterAccountNumber="0451000123456789"))
    assert answer.json()["outcome"] == "paid"
    [note] = shop.notifications()
    assert "0451000123456789" not in note.body and "6789" in note.body
    assert BANK["BANK_ACCOUNT"] in note.body  # the operator's own account stays
