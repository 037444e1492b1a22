"""The ridership pages in headless Chromium (Debian's), signed in as each role."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from issuer.identity import operators
from ridership_testkit import TripMaker, today_with_room
from shared import clock
from tests.issuer.conftest import api, app, client, config, initialised, session  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
MIN = 60_000

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (make /usr/bin/chromium)"),
    # The pages' queries run on both databases in test_console_api; one is enough here.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)
    httpd.server_close()


@pytest.fixture
def staff(session):
    for role in operators.ROLES:
        operators.create(session, role, [role], now=clock.now(), password=PASSWORD)
    session.commit()


@pytest.fixture
def seeded(api, worker_factory, stream):
    """Today: a pass cloned onto a second bus, another rider, a refusal; last week too."""
    rider = api.account()
    p = api.issue(rider["id"], "multi")
    today = today_with_room(7 * MIN)  # the last trip at t0 + 5 min, in the past
    t0 = max(today * 1000 + 60_000, int(clock.now() * 1000) - 30 * MIN)
    m = TripMaker()
    stream.push(m.board(pass_id=p["id"], at_ms=t0, stop="S01", vehicle="29B-100.01"),
                m.board(pass_id=p["id"], at_ms=t0 + 3 * MIN, stop="S09", vehicle="29B-777.77"),
                m.alight(pass_id=p["id"], at_ms=t0 + 5 * MIN, stop="S04", vehicle="29B-100.01"),
                m.board(pass_id="P000000002", at_ms=t0 + MIN, stop="S02", product="free",
                        category="elderly"),
                m.board(pass_id="P000000002", at_ms=t0 - 7 * 86400_000, stop="S02"),
                m.refused("stale_proof", pass_id="P000000003", at_ms=t0 + 2 * MIN))
    worker_factory().drain(clock.now())
    return p


@pytest.fixture
def sign_in(browser, server, staff):
    pages = []

    def as_role(role: str, axe: bool = False):
        # A browser that asks for Vietnamese (the pages follow it on a first visit); for axe,
        # one that lets its script in past the pages' CSP.
        context = browser.new_context(accept_downloads=True, locale="vi-VN", bypass_csp=axe)
        page = context.new_page()
        page.goto(f"{server}/console/login")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        pages.append(context)
        return page

    yield as_role
    for context in pages:
        context.close()


def test_analyst_sees_the_dashboard_with_charts_tables_and_csv(sign_in, server, seeded, tmp_path):
    page = sign_in("analyst")
    page.goto(f"{server}/console/ridership/")
    assert page.locator("h1").inner_text().startswith("Lượt đi")
    assert page.locator("#total").inner_text() == "3"
    page.wait_for_selector("#hourly[data-drawn=true]")
    assert page.locator(".panel[data-drawn=true]").count() == 5  # every panel has its chart
    page.locator("#routes summary").click()
    # Route 32 is not in the network (no feed imported): no name.
    first = page.locator("#routes table tbody tr").first.inner_text().split("\t")
    assert first[:3] == ["32", "—", "3"]
    refusals = page.locator("#refusals table").text_content()
    # One language at a time: the refusal's reason in Vietnamese only.
    assert "Mã QR đã cũ" in refusals and "QR code is old" not in refusals
    with page.expect_download() as download:
        page.click("#routes a.tools")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "route,route_name,boardings,alightings,refusals"
    assert text.splitlines()[1] == "32,,3,1,1"
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)


def test_free_passes_show_their_category_name(sign_in, server, seeded, tmp_path):
    """In the products panel's chart and table, and the settlement's; the code in the CSV."""
    page = sign_in("analyst")
    page.goto(f"{server}/console/ridership/")
    page.wait_for_selector("#products[data-drawn=true]")
    labels = page.evaluate("document.querySelector('#products canvas').chart.data.labels")
    assert "Thẻ miễn phí đi xe buýt: Người cao tuổi" in labels
    assert not any("free:" in label or "Elderly" in label for label in labels)
    page.locator("#products summary").click()
    row = page.locator("#products tbody tr", has_text="Người cao tuổi")
    assert row.inner_text().split("\t")[:2] == [
        "Thẻ miễn phí đi xe buýt: Người cao tuổi", "free:elderly"]
    with page.expect_download() as download:
        page.click("#products a.tools")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "product,name_vi,name_en,boardings,alightings,refusals"
    assert "free:elderly,Thẻ miễn phí đi xe buýt: Người cao tuổi," in text

    page.goto(f"{server}/console/ridership/settlement")
    page.wait_for_selector("#settlement[data-drawn=true]")
    legend = page.evaluate("document.querySelector('#settlement canvas').chart.data.datasets"
                           ".map(d => d.label)")
    assert "Thẻ miễn phí đi xe buýt: Người cao tuổi" in legend
    page.locator("#settlement summary").click()
    assert page.locator("#settlement tbody tr", has_text="Người cao tuổi").count() == 1
    page.goto(f"{server}/lang/en?next=/console/ridership/settlement")  # and in English
    page.wait_for_selector("#settlement[data-drawn=true]")
    legend = page.evaluate("document.querySelector('#settlement canvas').chart.data.datasets"
                           ".map(d => d.label)")
    assert "Free bus pass: Elderly people" in legend
    page.screenshot(path=str(tmp_path / "products.png"), full_page=True)


def test_analyst_reads_od_settlement_validators_and_alerts(sign_in, server, seeded):
    page = sign_in("analyst")
    page.goto(f"{server}/console/ridership/od?route=32")
    heat = page.locator("table.heat")
    assert "S04" in heat.inner_text() and "(open)" in heat.inner_text()
    page.goto(f"{server}/console/ridership/settlement")
    page.wait_for_selector("#settlement[data-drawn=true]")
    page.goto(f"{server}/console/ridership/validators")
    assert page.locator("#validators[data-drawn=true]").count() == 1
    page.goto(f"{server}/console/ridership/alerts")
    assert page.locator("#alerts tbody tr").count() == 1
    assert page.locator("#alerts button").count() == 0  # reading only


def test_administrator_revokes_a_cloned_pass_from_its_alert(sign_in, server, seeded, api):
    page = sign_in("administrator")
    page.goto(f"{server}/console/ridership/alerts")
    row = page.locator("#alerts tbody tr").first
    assert "29B-100.01" in row.inner_text() and "29B-777.77" in row.inner_text()
    # A reason from the list, a note, then a confirmation page (no JavaScript needed).
    row.locator("a.revoke").click()
    page.wait_for_load_state()
    page.locator("#reason-cloned_qr").check()
    page.fill("#note", "two buses 3 km apart")
    page.locator("#reason-form button[type=submit]").click()
    page.wait_for_load_state()
    assert "Xác nhận thu hồi" in page.locator("#confirm").inner_text()
    assert api.ok("GET", f"/api/passes/{seeded['id']}")["status"] == "active"  # not yet
    page.locator("#confirm button[type=submit]").click()
    page.wait_for_load_state()
    assert f"Đã thu hồi vé {seeded['id']}" in page.locator(".flash.ok").inner_text()
    assert page.locator("#alerts tbody tr").count() == 0
    got = api.ok("GET", f"/api/passes/{seeded['id']}")
    assert (got["status"], got["revoke_code"]) == ("revoked", "cloned_qr")
    assert "two buses 3 km apart" in got["revoke_reason"]


def test_a_clerk_reads_a_pass_history_and_nothing_else(sign_in, server, seeded):
    page = sign_in("clerk")
    page.goto(f"{server}/console/ridership/history?pass_id={seeded['id']}")
    rows = page.locator("#history tbody tr")
    assert rows.count() == 3
    assert "Lên" in rows.nth(0).inner_text() and "Xuống" in rows.nth(2).inner_text()
    response = page.goto(f"{server}/console/ridership/")
    assert response.status == 403
    assert page.goto(f"{server}/console/ridership/alerts").status == 403


def test_not_signed_in_goes_to_the_sign_in_page(browser, server, staff):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/console/ridership/settlement")
    assert page.url.startswith(f"{server}/console/login")
    context.close()


CONSOLE_PAGES = {
    "administrator": ["/console/", "/console/counter/", "/console/payments/",
                      "/console/payments/reconcile", "/console/approvals/",
                      "/console/approvals/held", "/console/ridership/",
                      "/console/ridership/od?route=32", "/console/ridership/map",
                      "/console/ridership/settlement", "/console/ridership/validators",
                      "/console/ridership/alerts", "/console/ridership/alerts/1/revoke"],
}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_console_page_is_clean_for_axe_in_each_language(sign_in, server, seeded,
                                                              language):
    """WCAG 2.2 AA (contrast 4.5:1 included) at a desk's 1366x900, no horizontal scroll, in
    one language at a time."""
    from tests.a11y import assert_clean

    page = sign_in("administrator", axe=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server}/lang/{language}?next=/console/")
    for path in CONSOLE_PAGES["administrator"] + [
            f"/console/ridership/history?pass_id={seeded['id']}"]:
        page.goto(f"{server}{path}")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == language
        for summary in page.locator("details summary").all():
            summary.click()
        assert_clean(page, f"{path} ({language})")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366, path
    page.goto(f"{server}/console/login")


def test_the_sign_in_page_is_clean_for_axe(browser, server, staff):
    from tests.a11y import assert_clean

    for language in ("vi", "en"):
        context = browser.new_context(locale=language, viewport={"width": 1366, "height": 900},
                                      bypass_csp=True)
        page = context.new_page()
        page.goto(f"{server}/console/login")
        assert_clean(page, f"login ({language})")
        # Keyboard only: the fields and the button are reached with Tab.
        page.keyboard.press("Tab")
        reached = set()
        for _ in range(12):
            reached.add(page.evaluate("document.activeElement.id || document.activeElement.type"))
            page.keyboard.press("Tab")
        assert {"username", "password", "submit"} <= reached
        context.close()
