"""Every reason the card shows no QR, each explained on the card with what to do: not yet
valid, expired, revoked, taken off a lost phone, offline too long, and a phone clock too far
off (where any QR would be refused by every validator)."""

import time

import pytest
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.models import Pass
from shared import clock
from tests.card.conftest import ADULT, ELDERLY, ROTATION, operator_call


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


def next_month(now: float) -> str:
    year, month = clock.hanoi_month(now)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def issue(eid_world, initialised, account_id: str, **fields) -> dict:
    return operator_call(eid_world, initialised, "POST", "/api/passes",
                         json={"account_id": account_id, "product": "multi", **fields})


def choose(phone, pass_id: str, kind: str) -> None:
    phone.page.click(f'.pass-choice[data-pass="{pass_id}"]')
    phone.page.wait_for_selector(f'#card[data-pass="{pass_id}"][data-state="{kind}"]')


def test_refused_states_explained_on_the_card(phones, eid_world, initialised, bus):
    phone = phones()
    phone.sign_in(ADULT)
    phone.page.wait_for_selector('#notice[data-state="no_pass"]')
    assert "Bạn chưa có thẻ" in phone.page.inner_text("#notice")
    account = phone.page.evaluate("fetch('/api/me').then((r) => r.json())")
    now = clock.now()
    this_month = issue(eid_world, initialised, account["id"])
    later = issue(eid_world, initialised, account["id"], month=next_month(now))
    ended = issue(eid_world, initialised, account["id"])

    # Not yet valid: next month's pass, activated early, shows when it starts.
    phone.page.reload()
    choose(phone, later["id"], "activate")
    phone.page.click("#activate")
    choose(phone, later["id"], "not_yet_valid")
    assert "Thẻ chưa đến ngày sử dụng" in phone.text()
    assert f"Thẻ dùng được từ 01/{later['valid_from_local'][5:7]}/" in phone.text()
    assert phone.page.locator("#qr").count() == 0
    phone.screenshot("vi-not-yet-valid")

    # Taken off a lost phone (reported on the account page): activate again to ride.
    choose(phone, this_month["id"], "activate")
    phone.page.click("#activate")
    choose(phone, this_month["id"], "show")
    phone.wait_for_qr()
    shown = phone.read_qr()
    assert bus.check(shown).reason == "ok"
    phone.page.goto(phone.base + "/my/")
    phone.page.fill(f"#pass-{this_month['id']} input[name=reason]", "rơi trên xe 32")
    phone.page.click(f"#pass-{this_month['id']} form button[type=submit]")
    phone.page.goto(phone.base + "/card/")
    choose(phone, this_month["id"], "removed")
    assert "Thẻ đã được gỡ khỏi điện thoại này" in phone.text()
    phone.page.click("#activate")
    choose(phone, this_month["id"], "show")

    # Revoked by an administrator, with the reason on the card.
    operator_call(eid_world, initialised, "POST", f"/api/passes/{this_month['id']}/revoke",
                  json={"code": "mistake", "reason": "nhầm số thẻ"})
    assert bus.check(phone.next_qr(shown)).reason == "revoked"
    phone.page.reload()
    choose(phone, this_month["id"], "revoked")
    # The issuer's words for the reason's code and what to do; the staff's note stays theirs.
    assert "Thẻ đã bị thu hồi" in phone.text() and "Vé của bạn đã bị khóa do nhầm lẫn." in phone.text()
    assert "Hãy gọi tổng đài để được mở lại vé" in phone.text() and "nhầm số thẻ" not in phone.text()
    assert "quầy bán vé" in phone.text()
    assert phone.legibility()["lowest"]["ratio"] >= 7
    phone.screenshot("vi-revoked")

    # Expired: the pass's period is over (here its end moved to a minute ago).
    with db.session(initialised["DATABASE_URL"]) as session:
        session.execute(sa.update(Pass).where(Pass.id == ended["id"])
                        .values(valid_until=int(clock.now()) - 60))
        session.commit()
    phone.page.reload()
    choose(phone, ended["id"], "expired")
    assert "Thẻ đã hết hạn" in phone.text() and "Hãy mua vé tháng mới" in phone.text()
    assert phone.page.get_attribute("#notice #buy", "href") == "/my/buy"
    phone.page.click("#lang")
    phone.page.wait_for_selector('html[lang="en"]')
    assert "The pass has expired" in phone.text() and "Buy a new monthly pass" in phone.text()
    phone.screenshot("en-expired")


def test_offline_too_long(phones, bus):
    phone = phones()
    phone.context.clock.install(time=clock.now())  # the phone's clock, to move it later
    phone.sign_in(ELDERLY, "/my/free")
    phone.page.click('form:has(input[name=category][value=elderly]) button[type=submit]')
    phone.page.goto(phone.base + "/card/")
    phone.activate()
    phone.context.set_offline(True)
    phone.page.wait_for_selector("#network.offline")
    # Three days and an hour without a network: the credential (72 h) has run out.
    phone.page.clock.set_system_time(clock.now() + 73 * 3600)
    phone.state("offline_too_long")
    assert "Cần kết nối mạng để gia hạn thẻ" in phone.text()
    assert "Hãy bật Wi-Fi hoặc dữ liệu di động" in phone.text()
    assert phone.page.locator("#qr").count() == 0
    phone.screenshot("vi-offline-too-long")


def test_clock_far_off_warns_instead_of_a_qr(phones, bus):
    phone = phones()
    phone.context.clock.install(time=clock.now() + 600)  # ten minutes fast
    phone.sign_in(ELDERLY, "/my/free")
    phone.page.click('form:has(input[name=category][value=elderly]) button[type=submit]')
    phone.page.goto(phone.base + "/card/")
    phone.state("activate")
    phone.page.click("#activate")
    phone.state("clock")
    text = phone.text()
    assert "Đồng hồ điện thoại không đúng giờ" in text and "Điện thoại đang nhanh 10 phút" in text
    assert "bật chỉnh giờ tự động" in text
    assert phone.legibility()["lowest"]["ratio"] >= 7
    assert phone.page.locator("#qr").count() == 0
    # The screen reader hears it (a polite live region), not only the eyes.
    # (Polled from here: the page's animation frames run on the clock this test moved.)
    for _ in range(50):
        if phone.page.text_content("#announce").startswith("Đồng hồ điện thoại"):
            break
        time.sleep(0.1)
    assert phone.page.text_content("#announce").startswith("Đồng hồ điện thoại")
    assert phone.page.get_attribute("#announce", "aria-live") == "polite"
    phone.screenshot("vi-clock")

    # The rider sets the clock right and checks again: the QR, and a ride.
    phone.page.clock.set_system_time(clock.now())
    phone.page.click("#check-clock")
    phone.state("show")
    phone.wait_for_qr()
    assert bus.check(phone.read_qr()).reason == "ok"

    # Within the window the card shows the QR, timed by the issuer's clock: a phone 40 s
    # slow makes proofs as fresh as any (on its own clock they would be 40 s old already,
    # and refused before the end of a 30 s period).
    phone.page.clock.set_system_time(clock.now() - 40)
    phone.page.reload()
    phone.state("show")
    phone.wait_for_qr()
    text = phone.next_qr("")
    for _ in range(2):
        decision = bus.check(text)
        assert decision.reason == "ok", decision
        assert abs(decision.proof_at - clock.now()) <= ROTATION + 1
        text = phone.next_qr(text)
