"""A rider on a phone-sized Chromium orders a monthly pass and pays it, once by card through
the development gateway's pages and once by VietQR transfer announced by the bank's webhook,
and finds the pass on the card, ready to activate and show."""

from __future__ import annotations

import re

import pytest

from tests.a11y import assert_clean
from tests.card.conftest import ADULT, Phone, chromium  # noqa: F401  (a fixture)
from tests.payments.conftest import served_shop
from tests.payments.test_bank_transfers import credit, notify

STUDENT = "vn-c41d7e88"  # Lê Hoàng Cường, another level-2 citizen


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    # One database is enough here: the pages call services tested on both.
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def world(initialised):
    with served_shop(initialised, initialised["DATABASE_URL"]) as shop:
        yield shop


def order_on_the_phone(phone: Phone, sub: str) -> str:
    phone.page.goto(phone.base + "/my/")
    phone.page.click('button[data-sub="%s"]' % sub)  # the e-ID's citizen chooser
    phone.page.wait_for_url(phone.base + "/my/")
    phone.page.goto(phone.base + "/my/buy")
    phone.page.select_option("#product", "multi")
    phone.page.click("#buy button[type=submit]")
    phone.page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
    assert phone.page.get_attribute("#status", "data-status") == "pending"
    assert phone.page.inner_text("#status") == "chờ thanh toán"
    return phone.page.url.rsplit("/", 1)[1]


def pass_on_the_card(phone: Phone, order_id: str) -> None:
    phone.page.goto(f"{phone.base}/my/orders/{order_id}")
    assert phone.page.get_attribute("#status", "data-status") == "paid"
    assert phone.page.inner_text("#status") == "đã thanh toán"
    phone.page.click("#pass")  # to the card
    phone.page.wait_for_url(phone.base + "/card/")
    phone.activate()
    assert "Vé tháng liên tuyến" in phone.text()


def test_a_rider_pays_by_card_through_the_gateway_pages(chromium, world):  # noqa: F811
    phone = Phone(chromium, world.issuer.url)
    try:
        order_id = order_on_the_phone(phone, ADULT)
        phone.page.click("#pay-card button[type=submit]")
        phone.page.wait_for_url(world.gateway.url + "/paymentv2/vpcpay.html**")
        assert phone.page.inner_text("#amount").startswith("200.000")
        phone.page.click("button.pay")  # the tester pays; the IPN goes at once
        phone.page.wait_for_url(f"{phone.base}/my/orders/{order_id}")
        assert phone.page.get_attribute("#status", "data-status") == "paid"
        assert phone.page.inner_text("#status") == "đã thanh toán"
        pass_on_the_card(phone, order_id)
        assert phone.errors == []
    finally:
        phone.close()


def test_a_rider_pays_by_vietqr_and_the_bank_tells_the_issuer(chromium, world):  # noqa: F811
    phone = Phone(chromium, world.issuer.url)
    try:
        order_id = order_on_the_phone(phone, STUDENT)
        assert phone.page.is_visible("#vietqr")
        reference = phone.page.inner_text("#transfer-reference")
        amount = int(phone.page.inner_text("#transfer-amount"))
        # Someone pays it from a bank app; the bank-statement service tells the issuer.
        answer = notify(world, credit(id="FT-PHONE-1", content=f"CK {reference}",
                                      transferAmount=amount))
        assert answer.json()["outcome"] == "paid"
        pass_on_the_card(phone, order_id)
        assert phone.errors == []
    finally:
        phone.close()


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_pages_to_pay_fit_a_phone_and_axe_finds_nothing(chromium, world, language):  # noqa: F811
    """The order waiting for payment (card, VietQR, counter) and the page shared to pay it:
    at 360 and 390 px wide no sideways scroll, and nothing axe finds at WCAG 2.2 AA."""
    # bypass_csp: axe is the test's own script, which the pages' policy would refuse.
    phone = Phone(chromium, world.issuer.url, bypass_csp=True,
                  locale="vi-VN" if language == "vi" else "en-US")
    try:
        order_id = order_on_the_phone(phone, ADULT) if language == "vi" else None
        if order_id is None:
            phone.page.goto(phone.base + "/my/")
            phone.page.click('button[data-sub="%s"]' % ADULT)
            phone.page.wait_for_url(phone.base + "/my/")
            phone.page.goto(phone.base + "/my/buy")
            phone.page.select_option("#product", "multi")
            phone.page.click("#buy button[type=submit]")
            phone.page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
            order_id = phone.page.url.rsplit("/", 1)[1]
        shared = phone.page.get_attribute("#share-link", "href")
        for width, height in [(360, 800), (390, 844)]:
            phone.page.set_viewport_size({"width": width, "height": height})
            for url in (f"{phone.base}/my/orders/{order_id}", shared):
                phone.page.goto(url)
                assert phone.page.locator("html").get_attribute("lang") == language
                assert phone.page.evaluate("document.documentElement.scrollWidth") <= width, url
                assert_clean(phone.page, f"{url} at {width} px")
    finally:
        phone.close()
