"""The rider's card in a real browser (Debian's Chromium, headless, phone-sized): sign in
with the e-ID, get a pass, activate it on the phone, and read its QR off the screen with
zxing-cpp as a validator's camera would; the validator decides with what the issuer
publishes. Online, offline, and after the pass moves to another phone."""

import time

import pytest

from shared import b64
from tests.card.conftest import ELDERLY, ROTATION


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    # One database is enough here: the card calls services tested on both.
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


def get_free_pass(phone) -> None:
    """The elderly rider asks for her free pass on the account pages."""
    phone.page.goto(phone.base + "/my/free")
    phone.page.click('form:has(input[name=category][value=elderly]) button[type=submit]')
    phone.page.wait_for_url(phone.base + "/my/")
    phone.page.click("#card-link")
    phone.page.wait_for_url(phone.base + "/card/")


def test_card_rides_online_offline_and_not_after_moving(phones, bus):
    phone = phones()
    phone.sign_in(ELDERLY)
    get_free_pass(phone)
    with phone.page.expect_request(lambda r: r.method == "POST"
                                   and r.url.endswith("/device")) as sent:
        phone.activate()
    # Only the public key leaves the phone, on a call that carries the CSRF token.
    body = sent.value.post_data_json
    assert set(body) == {"public_key", "label"}
    assert len(b64.decode(body["public_key"])) == 65  # the uncompressed P-256 point
    assert sent.value.headers["x-csrftoken"]
    card = phone.text()
    assert "Trần Thị Bình" in card and "Thẻ miễn phí" in card and "Tất cả các tuyến" in card
    assert phone.page.locator("html").get_attribute("lang") == "vi"
    # Readable by an elderly rider and by a screen reader: large type, strong contrast
    # (WCAG AAA, 7:1), and every picture and control named.
    legible = phone.legibility()
    assert legible["smallest"]["size"] >= 16, legible
    assert legible["lowest"]["ratio"] >= 7, legible
    page = phone.page
    assert page.get_by_role("img", name="Mã QR của thẻ. Đưa mã vào máy soát vé khi lên xe.") \
        .count() == 1
    assert page.get_by_role("img", name="Ảnh của Trần Thị Bình").count() == 1
    assert page.get_by_role("link", name="English").count() == 1
    assert page.get_by_role("heading", name="Thẻ vé xe buýt").count() == 1

    first = phone.read_qr("vi")
    decision = bus.check(first)
    assert decision.reason == "ok", decision
    assert decision.claims.product == "F" and decision.claims.category == "elderly"

    # The private key is the phone's and can't be read out, even by the page itself.
    key = phone.page.evaluate("""async () => {
        const db = await new Promise((ok) => { const r = indexedDB.open("vexe-card"); r.onsuccess = () => ok(r.result); });
        const all = await new Promise((ok) => { const r = db.transaction("devices").objectStore("devices").getAll(); r.onsuccess = () => ok(r.result); });
        const key = all[0].keys.privateKey;
        let exported = true;
        try { await crypto.subtle.exportKey("jwk", key); } catch (e) { exported = false; }
        return {extractable: key.extractable, exported, algorithm: key.algorithm};
    }""")
    assert key == {"extractable": False, "exported": False,
                   "algorithm": {"name": "ECDSA", "namedCurve": "P-256"}}

    phone.page.click("#lang")
    phone.page.wait_for_selector('html[lang="en"]')
    assert "Free pass" in phone.text() and "All routes" in phone.text()
    assert page.get_by_role("img", name="The pass's QR code. Hold it to the validator when "
                            "you board.").count() == 1
    assert bus.check(phone.read_qr("en")).reason == "ok"
    phone.page.click("#lang")
    phone.page.wait_for_selector('html[lang="vi"]')

    # The service worker holds the card page, so the card opens with no network at all.
    phone.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    phone.context.set_offline(True)
    assert phone.page.reload().from_service_worker
    phone.state("show")
    phone.wait_for_qr()
    assert phone.page.inner_text("#network") == "Không có mạng"
    assert "Dùng được khi không có mạng đến" in phone.page.inner_text("#offline-until")
    before = phone.read_qr()
    time.sleep(2 * ROTATION + 0.5)
    offline = phone.next_qr(before)
    assert offline != first
    decision = bus.check(offline)
    assert decision.reason == "ok", decision
    phone.screenshot("vi-offline")

    # A new phone: the same rider signs in there and activates the pass.
    new_phone = phones()
    new_phone.sign_in(ELDERLY)
    new_phone.state("activate")
    assert "Thẻ đang dùng trên một điện thoại khác" in new_phone.text()
    new_phone.activate()
    assert bus.check(new_phone.read_qr()).reason == "ok"
    # Offline and back: the new phone renews its credential by itself, quietly.
    new_phone.context.set_offline(True)
    new_phone.page.wait_for_selector("#network.offline")
    with new_phone.page.expect_response(lambda r: r.request.method == "POST"
                                        and r.url.endswith("/credential")) as renewed:
        new_phone.context.set_offline(False)
    assert renewed.value.status == 200
    new_phone.page.wait_for_selector("#network.online")
    new_phone.state("show")
    assert bus.check(new_phone.next_qr("")).reason == "ok"

    # The old phone, still offline, keeps drawing QRs: the issuer's denylist refuses them.
    stale = phone.next_qr(offline)
    assert bus.check(stale).reason == "device_replaced"

    # Back online, it hears of the move and says so instead of showing a QR.
    phone.context.set_offline(False)
    phone.state("replaced")
    assert "Thẻ đã được kích hoạt trên điện thoại khác" in phone.text()
    assert phone.page.locator("#qr").count() == 0
    assert phone.legibility()["lowest"]["ratio"] >= 7
    phone.screenshot("vi-replaced")
