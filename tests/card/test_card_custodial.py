"""A phone that can't keep a key: the card shows the QR the issuer makes for the pass
(custodial), online only, and says so.

The phone here opens the card over plain HTTP at a name that is not this machine's, which
is what makes a browser withhold WebCrypto (it exists only in secure contexts): Chromium
maps the name to 127.0.0.1, and the e-ID provider knows the issuer by that name too.
"""

import pytest

from tests.card.conftest import ARGS, CHROMIUM, ELDERLY, Phone
from tests.identity.conftest import served_eid_world

HOST = "vexe-card.test"


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def plain_http_world(initialised):
    with served_eid_world(initialised, HOST) as world:
        yield world


@pytest.fixture
def plain_http_phone(plain_http_world):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=ARGS + [f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])
        phone = Phone(browser, plain_http_world.issuer.url)
        # Chromium notes that it ignores this header on plain HTTP: the point of this phone.
        phone.tolerated.append("Cross-Origin-Opener-Policy header has been ignored")
        yield phone
        errors = phone.errors
        phone.close()
        browser.close()
        assert not errors, errors


def test_phone_without_webcrypto_shows_the_issuers_qr_online_only(plain_http_phone, bus):
    phone = plain_http_phone
    phone.sign_in(ELDERLY)
    assert phone.page.evaluate("() => [window.isSecureContext, typeof crypto.subtle]") == \
        [False, "undefined"]
    phone.page.goto(phone.base + "/my/free")
    phone.page.click('form:has(input[name=category][value=elderly]) button[type=submit]')
    phone.page.goto(phone.base + "/card/")

    phone.state("activate")
    with phone.page.expect_response(lambda r: r.url.endswith("/custodial")) as bound:
        phone.page.click("#activate")
    assert bound.value.status == 201
    phone.state("custodial")
    phone.wait_for_qr()
    assert "Điện thoại này không tự tạo được mã QR" in phone.text()
    assert "chỉ hiện khi có mạng" in phone.text()
    first = phone.read_qr("vi-custodial")
    decision = bus.check(first)
    assert decision.reason == "ok", decision
    later = phone.next_qr(first)
    assert bus.check(later).reason == "ok"

    # No network, no QR: the card says why instead of showing an old one.
    phone.context.set_offline(True)
    phone.state("custodial_offline")
    assert phone.page.locator("#qr").count() == 0
    assert "Cần có mạng để hiện mã QR" in phone.text()
    phone.context.set_offline(False)
    phone.state("custodial")
    phone.wait_for_qr()
    assert bus.check(phone.next_qr(later)).reason == "ok"
