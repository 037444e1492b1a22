"""The rider's printable receipt: the seller (name, tax code, address), what was bought,
the amount and the VAT in it, how it was paid and the payment's reference."""

from __future__ import annotations

import re

from tests.payments.test_bank_transfers import credit, notify


def text_of(html: str, element: str) -> str:
    found = re.search(rf'id="{element}">(.*?)</', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_a_receipt_for_a_transfer(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    before = rider.get(f"{shop.issuer.url}/my/orders/{order_id}/receipt", timeout=10)
    assert before.status_code == 409  # nothing paid yet
    notify(shop, credit(id="FT-R1", content=f"VX{order_id}"))
    page = rider.get(f"{shop.issuer.url}/my/orders/{order_id}/receipt", timeout=10)
    assert page.status_code == 200
    assert text_of(page.text, "tax-code") == "0100100000"
    assert text_of(page.text, "amount") == "200.000 ₫"
    assert text_of(page.text, "vat") == "14.815 ₫"  # 8 % included: 200000 × 8 / 108
    assert "VietQR" in text_of(page.text, "method")
    assert text_of(page.text, "reference") == "FT-R1"
    assert 'onclick="window.print()"' in page.text
    other = shop.rider("vn-c41d7e88")
    assert other.get(f"{shop.issuer.url}/my/orders/{order_id}/receipt",
                     timeout=10).status_code == 403
