"""The reminder to renew on the card, in Chromium: in a monthly pass's last days (the account
page's and the e-mails' window, REMINDER_DAYS), not before, offline too (the card decides by
its clock from what it last fetched); one tap renews, then the order waits for payment; none
when next month's pass is already on the phone, which the card says instead. The QR stays
whole on a phone's screen, and the card stays 7:1 and axe clean, in both languages."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from issuer import bootstrap
from issuer.platform import db, settings
from issuer.platform.models import Order, Pass
from issuer.sales import orders
from shared import clock
from tests.a11y import assert_clean
from tests.card.conftest import (ADULT, ROTATION, SCREENS, operator_call, qr_on_screen,
                                 renewed_and_paid)

DAY = 86400
AXE_ALLOWED = {"bypass_csp": True}  # axe is put into the page by the test


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def initialised(config):
    """Next month on sale from the 1st (so there is one to renew whatever today is), the
    reminder's five days, and credentials that last through the days the phone is moved."""
    bootstrap.init(settings.load(config), now=clock.now())
    return {**config, "CARD_ROTATION": ROTATION, "SALES_OPEN_DAY": 1, "REMINDER_DAYS": 5,
            "CREDENTIAL_LIFETIME": 10 * DAY}


def ends_at(config: dict, pass_id: str, at: int, *, following: str | None = None) -> None:
    """The pass moved to end at ``at`` (and the one following it to start then)."""
    with db.session(config["DATABASE_URL"]) as session:
        session.execute(sa.update(Pass).where(Pass.id == pass_id).values(valid_until=at))
        if following:
            session.execute(sa.update(Pass).where(Pass.id == following).values(valid_from=at))
        session.commit()


def last_day(at: int) -> str:
    """The pass's last day as the card writes it in Vietnamese (the day before ``at``)."""
    return dt.datetime.fromtimestamp(at - 1, clock.HANOI).strftime("%d/%m/%Y")


def signed_in_and_given_a_pass(phone, eid_world, initialised) -> dict:
    """The rider signs in on the card, which has no pass yet; an operator issues her a
    multi-route pass. The pass as the API answered."""
    phone.sign_in(ADULT)
    phone.page.wait_for_selector('#notice[data-state="no_pass"]')
    account = phone.page.evaluate("fetch('/api/me').then((r) => r.json())")
    return operator_call(eid_world, initialised, "POST", "/api/passes",
                         json={"account_id": account["id"], "product": "multi"})


def test_reminded_in_the_last_days_offline_too_and_renewed_in_one_tap(phones, eid_world,
                                                                       initialised):
    phone = phones(viewport=SCREENS[0], **AXE_ALLOWED)
    phone.context.clock.install(time=clock.now())  # the phone's clock, to move it later
    page = phone.page
    made = signed_in_and_given_a_pass(phone, eid_world, initialised)
    start = int(clock.now())
    end = start + 8 * DAY
    ends_at(initialised, made["id"], end)
    page.reload()
    phone.activate()

    # Eight days left: no reminder yet. The issuer said when it starts, the same five days
    # as the account page's.
    listed = page.evaluate("fetch('/api/me/passes').then((r) => r.json())")["passes"]
    assert listed[0]["renewal"] == {"remind_from": end - 5 * DAY, "held": False, "order": None}
    assert page.locator("#renewal").count() == 0

    # Offline, the days go by on the phone: six days left, still none; four, the reminder.
    phone.context.set_offline(True)
    page.wait_for_selector("#network.offline")
    page.clock.set_system_time(start + 2 * DAY)
    phone.state("show")
    assert page.locator("#renewal").count() == 0
    page.clock.set_system_time(start + 4 * DAY)
    page.wait_for_selector('#renewal[data-renewal="due"]')
    text = page.inner_text("#renewal")
    assert f"Vé của bạn hết hạn ngày {last_day(end)}. Hãy gia hạn cho tháng " in text
    assert "Cần có mạng để gia hạn." in text
    assert page.is_disabled("#renew")  # renewing needs the issuer
    phone.state("show")
    for screen in SCREENS:
        qr_on_screen(phone, screen, f"reminder offline, {screen}")
    phone.screenshot("vi-renew-reminder-offline")

    # Back online with the right time, three days left: the reminder, the button live.
    page.clock.set_system_time(clock.now())
    phone.context.set_offline(False)
    page.wait_for_selector("#network.online")
    end = int(clock.now()) + 3 * DAY
    ends_at(initialised, made["id"], end)
    page.reload()
    page.wait_for_selector('#renewal[data-renewal="due"]')
    assert page.is_enabled("#renew") and page.inner_text("#renew") == "Gia hạn tháng sau"
    assert "Cần có mạng" not in page.inner_text("#renewal")
    for screen in SCREENS:
        qr_on_screen(phone, screen, f"reminder, {screen}")
        # Under the QR, and still on the screen to be seen.
        assert page.locator("#renewal").bounding_box()["y"] < screen["height"], screen
    page.set_viewport_size(SCREENS[0])
    assert_clean(page, "card with a reminder, vi", enhanced_contrast=True)
    legible = phone.legibility()
    assert legible["smallest"]["size"] >= 16 and legible["lowest"]["ratio"] >= 7, legible
    # The screen reader hears it too.
    page.wait_for_function("document.getElementById('announce').textContent"
                           ".includes('Hãy gia hạn cho')")
    phone.screenshot("vi-renew-reminder")

    page.click("#lang")
    page.wait_for_selector('html[lang="en"]')
    ended = dt.datetime.fromtimestamp(end - 1, clock.HANOI)
    assert (f"Your pass ends on {ended.day} {ended:%B %Y}. Renew it for "
            in page.inner_text("#renewal"))
    assert page.inner_text("#renew") == "Renew for next month"
    assert_clean(page, "card with a reminder, en", enhanced_contrast=True)
    assert phone.legibility()["lowest"]["ratio"] >= 7
    for screen in SCREENS:
        qr_on_screen(phone, screen, f"reminder en, {screen}")
    phone.screenshot("en-renew-reminder")

    # One tap: the account page's renewal, an order for the month after, same product.
    page.click("#renew")
    page.wait_for_url(re.compile(r"/my/orders/[0-9A-Z]{10}$"))
    order_id = page.url.rsplit("/", 1)[1]
    with db.session(initialised["DATABASE_URL"]) as session:
        order = session.get(Order, order_id)
        year, month = clock.hanoi_month(end)
        assert (order.account_id, order.product, order.route_code, order.month, order.status) \
            == (made["account_id"], "multi", None, f"{year:04d}-{month:02d}", orders.PENDING)

    # Back on the card: no more asking, the order waiting for payment, a link to pay it.
    page.goto(phone.base + "/card/")
    page.wait_for_selector('#renewal[data-renewal="ordered"]')
    assert "is waiting for payment" in page.inner_text("#renewal")
    assert page.get_attribute("#renew-pay", "href") == f"/my/orders/{order_id}"
    assert page.locator("#renew").count() == 0
    page.click("#lang")
    page.wait_for_selector('html[lang="vi"]')
    assert "đang chờ thanh toán" in page.inner_text("#renewal")
    for screen in SCREENS:
        qr_on_screen(phone, screen, f"renewal ordered, {screen}")
    assert_clean(page, "card with a renewal ordered, vi", enhanced_contrast=True)


def test_no_reminder_when_next_month_is_on_the_phone(phones, eid_world, initialised):
    phone = phones(viewport=SCREENS[1], **AXE_ALLOWED)
    page = phone.page
    current = signed_in_and_given_a_pass(phone, eid_world, initialised)
    page.reload()
    phone.activate()

    # Renewed and paid: next month's pass, bound to this phone; the two moved to meet two
    # days from now, inside the reminder's days.
    following = renewed_and_paid(initialised["DATABASE_URL"], current["account_id"])
    end = int(clock.now()) + 2 * DAY
    ends_at(initialised, current["id"], end, following=following)

    with page.expect_response(lambda r: f"/api/passes/{following}/credential" in r.url
                              and r.status == 200):
        page.reload()
    page.wait_for_selector(f'#card[data-pass="{current["id"]}"][data-state="show"]')
    page.wait_for_selector('#renewal[data-renewal="ready"]')
    assert "Tháng sau: đã sẵn sàng." in page.inner_text("#renewal")
    assert page.locator("#renew").count() == 0
    listed = {p["id"]: p for p in
              page.evaluate("fetch('/api/me/passes').then((r) => r.json())")["passes"]}
    assert listed[current["id"]]["renewal"]["held"] is True

    # Offline it stays so: what the phone holds decides.
    phone.context.set_offline(True)
    page.wait_for_selector("#network.offline")
    page.reload()
    page.wait_for_selector('#renewal[data-renewal="ready"]')
    for screen in SCREENS:
        qr_on_screen(phone, screen, f"next month ready, {screen}")
    assert_clean(page, "card with next month ready, vi", enhanced_contrast=True)
    assert phone.legibility()["lowest"]["ratio"] >= 7
    page.click("#lang")
    page.wait_for_selector('html[lang="en"]')
    assert "Next month: ready." in page.inner_text("#renewal")
    assert_clean(page, "card with next month ready, en", enhanced_contrast=True)
    phone.screenshot("en-next-month-ready")

