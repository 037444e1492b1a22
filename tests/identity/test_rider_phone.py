"""The rider's pages on a phone, in Chromium: at 360 and 390 px wide, in Vietnamese and in
English, every page fits the screen (no sideways scroll) and axe finds nothing at WCAG 2.2
AA; the buy form works from the keyboard alone, and hides the route for a multi-route pass."""

from __future__ import annotations

import os
import re

import pytest
import requests

from backoffice import help_requests
from issuer.platform import db
from issuer.sales import actions, orders
from shared import clock
from tests.a11y import assert_clean
from tests.identity.conftest import PASSWORD
from tests.identity.test_rider_forms import add_trips
from tests.testkit import CHROMIUM


PHONES = [(360, 800), (390, 844)]
AN = "vn-7f3a9c21"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"  # the pages call services tested on both


def signed_in(world, chromium, language: str):
    # bypass_csp: axe is added to the page as a script of the test's own, which the pages'
    # Content-Security-Policy would refuse.
    context = chromium.new_context(viewport={"width": 360, "height": 800}, bypass_csp=True)
    host = world.issuer.url.split("//")[1].split(":")[0]
    context.add_cookies([{"name": "vexe_lang", "value": language, "domain": host, "path": "/"}])
    page = context.new_page()
    page.goto(world.issuer.url + "/signin")
    page.click(f'button[data-sub="{AN}"]')
    page.wait_for_url(world.issuer.url + "/my/")
    return page


def a_full_account(world, page) -> dict:
    """A paid pass with trips (one refused), a help request answered, a pending order."""
    base = world.issuer.url
    operator = {"Authorization": f"Bearer {world.issuer.app.config['OPERATOR_TOKEN']}"}
    requests.post(f"{base}/api/routes", headers=operator, timeout=10,
                  json={"code": "32", "name": "Giáp Bát - Nhổn"}).raise_for_status()
    months = orders.months_on_sale(clock.now(), 28)
    page.goto(base + "/my/buy")
    page.select_option("#product", "multi")
    page.select_option("#month", months[0])
    page.click("#buy button[type=submit]")
    page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
    paid_id = page.url.rsplit("/", 1)[1]
    url = world.issuer.app.config["DATABASE_URL"]
    with db.session(url) as session:
        paid = actions.take_payment(session, "thu-ngan", paid_id, 200_000, now=clock.now())
        pass_id, account_id = paid.pass_id, paid.account_id
    [trip, *_] = add_trips(world, pass_id, [(600, "board", "refuse", "wrong_route"),
                                            (1800, "alight", "accept", "ok"),
                                            (3600, "board", "accept", "ok")])
    with db.session(url) as session:
        asked = help_requests.ask(session, account_id, "Xe 32 không nhận vé của tôi " * 10,
                                  trip_id=trip, now=clock.now())
        session.commit()
        help_requests.answer(session, asked.id, "Đã kiểm tra: máy soát vé lỗi, xin lỗi bạn.",
                             clerk="thu-ngan", now=clock.now())
        session.commit()
    page.goto(base + "/my/buy")
    page.select_option("#product", "single")
    page.select_option("#route", "32")
    page.select_option("#month", months[-1])
    page.click("#buy button[type=submit]")
    page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
    return {"paid": paid_id, "pending": page.url.rsplit("/", 1)[1]}


def fits_and_is_clean(page, width: int, where: str) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where} at {width} px scrolls sideways: {scroll} px wide"
    assert_clean(page, f"{where} at {width} px")


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_rider_page_fits_a_phone_and_axe_finds_nothing(eid_world, chromium, language):
    page = signed_in(eid_world, chromium, language)
    made = a_full_account(eid_world, page)
    base = eid_world.issuer.url
    pages = ["/my/", "/my/buy", "/my/free", "/my/trips", f"/my/orders/{made['pending']}",
             f"/my/orders/{made['paid']}", f"/my/orders/{made['paid']}/receipt"]
    stranger = chromium.new_context(bypass_csp=True)
    host = base.split("//")[1].split(":")[0]
    stranger.add_cookies([{"name": "vexe_lang", "value": language, "domain": host,
                           "path": "/"}])
    outside = stranger.new_page()
    for width, height in PHONES:
        page.set_viewport_size({"width": width, "height": height})
        outside.set_viewport_size({"width": width, "height": height})
        for path in pages:
            page.goto(base + path)
            assert page.locator("html").get_attribute("lang") == language
            fits_and_is_clean(page, width, path)
        # A refused buy shows its error (the flash box) with what was chosen still chosen.
        page.goto(base + "/my/buy")
        page.select_option("#product", "single")
        page.select_option("#route", "")
        page.click("#buy button[type=submit]")
        assert page.locator(".flash.error").is_visible()
        assert page.locator("#product").input_value() == "single"
        fits_and_is_clean(page, width, "/my/buy refused")
        # The pages of someone not signed in: the start page and a refused e-ID sign-in.
        outside.goto(base + "/")
        fits_and_is_clean(outside, width, "/")
        answer = outside.goto(base + "/signin/callback?code=x&state=forged")
        assert answer.status == 400
        fits_and_is_clean(outside, width, "sign-in refused")
    stranger.close()


def test_the_buy_form_by_keyboard_alone_hides_the_route_of_a_multi_route_pass(
        eid_world, chromium):
    page = signed_in(eid_world, chromium, "vi")
    page.goto(eid_world.issuer.url + "/my/buy")
    assert page.locator("#product").input_value() == "single"
    assert page.locator("#route").is_visible()
    page.focus("#product")
    page.keyboard.press("ArrowDown")  # the next product: all routes
    assert page.locator("#product").input_value() == "multi"
    assert not page.locator("#route").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "month"  # the route is skipped
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "category"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
    assert page.locator("#status").get_attribute("data-status") == "pending"
    page.keyboard.press("Alt+ArrowLeft")  # back, and press again: the same order
    page.goto(eid_world.issuer.url + "/my/buy")
    page.focus("#product")
    page.keyboard.press("ArrowDown")
    page.locator("#buy button[type=submit]").press("Enter")
    page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
    assert page.locator(".flash.ok").is_visible()
    page.goto(eid_world.issuer.url + "/my/")
    assert page.locator("tr.order").count() == 1


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_clerk_answers_from_the_help_queue(eid_world, chromium, staff, language):
    """The clerk's queue at a desk's size: axe finds nothing, and the reply, typed and sent
    from the keyboard, reaches the rider's trips page."""
    page = signed_in(eid_world, chromium, language)
    base = eid_world.issuer.url
    page.goto(base + "/my/trips")
    page.fill("#message", "Tôi bị trừ tiền hai lần")
    with page.expect_navigation():
        page.locator("#ask button[type=submit]").press("Enter")
    assert page.locator(".help-request").get_attribute("data-status") == "open"
    staff.create("thu-ngan", "clerk")
    desk = chromium.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True,
                                locale="vi-VN" if language == "vi" else "en-US")
    clerk = desk.new_page()
    clerk.goto(base + "/console/login")
    clerk.fill("#username", "thu-ngan")
    clerk.fill("#password", PASSWORD)
    clerk.click("button[type=submit]")
    clerk.goto(base + "/console/help/")
    assert "Tôi bị trừ tiền hai lần" in clerk.inner_text("main")
    assert_clean(clerk, f"/console/help/ in {language}")
    clerk.locator(".help-request textarea").fill("Đã hoàn lại lần trừ thứ hai.")
    clerk.locator(".help-request textarea").press("Tab")
    with clerk.expect_navigation():
        clerk.keyboard.press("Enter")
    assert clerk.locator(".help-request").count() == 0
    page.reload()
    assert page.locator(".help-request").get_attribute("data-status") == "answered"
    assert "Đã hoàn lại lần trừ thứ hai." in page.inner_text(".help-request .reply")
    desk.close()
