"""The pages in a real browser (Debian's Chromium, headless): a rider signs in with the e-ID,
orders a monthly pass; a clerk signs in at the console, takes the cash and prints the
receipt; the rider then sees the pass. An approver rejects an application with a reason the
rider reads."""

import os
import re

import pytest

from tests.identity.conftest import PASSWORD
from tests.testkit import CHROMIUM



pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    # One database is enough here: the pages call the services tested on both.
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


def test_rider_buys_clerk_takes_cash(eid_world, chromium, staff, tmp_path):
    staff.create("thu-ngan", "clerk")
    base = eid_world.issuer.url

    rider = chromium.new_page(locale="vi-VN")  # the rider reads Vietnamese
    rider.goto(base + "/")
    rider.click("#signin")
    rider.click('button[data-sub="vn-7f3a9c21"]')  # the provider's citizen chooser
    rider.wait_for_url(base + "/my/")
    assert "Nguyễn Văn An" in rider.inner_text("#account")
    rider.click("text=Mua vé tháng")
    rider.select_option("#product", "multi")
    rider.click("#buy button[type=submit]")
    rider.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))  # the order, to pay
    assert rider.get_attribute("#status", "data-status") == "pending"
    assert rider.inner_text("#status") == "chờ thanh toán"  # the code said as words
    rider.goto(base + "/my/")
    row = rider.locator("tr.order").first
    order_id = row.get_attribute("data-order")
    assert row.get_attribute("data-status") == "pending"
    assert row.locator(".status").inner_text() == "chờ thanh toán"
    assert "200.000 ₫" in row.inner_text()

    clerk = chromium.new_page(locale="en-US")  # the clerk reads English
    clerk.goto(base + "/console/counter/")
    clerk.wait_for_url(re.compile(r".*/console/login\?next=.*"))
    clerk.fill("#username", "thu-ngan")
    clerk.fill("#password", PASSWORD)
    clerk.click("button[type=submit]")
    clerk.wait_for_url(base + "/console/counter/")
    clerk.fill("#q", order_id)
    clerk.click("#find button")
    clerk.click(f"text={order_id}")
    clerk.fill("#amount", "150000")
    clerk.click("#pay button")
    assert "the amount taken must be the order's price" in clerk.inner_text("main")
    clerk.fill("#amount", "200000")
    clerk.click("#pay button")
    clerk.wait_for_url(re.compile(r".*/receipt$"))
    receipt = clerk.inner_text("#receipt")
    assert order_id in receipt and "200,000 ₫" in receipt and "thu-ngan" in receipt
    clerk.screenshot(path=str(tmp_path / "receipt.png"))

    rider.reload()
    assert rider.locator("tr.order").first.get_attribute("data-status") == "paid"
    assert rider.locator("tr.order .status").first.inner_text() == "đã thanh toán"
    assert rider.locator(".card.pass").count() == 1


def test_approver_rejects_rider_reads_why(eid_world, chromium, staff):
    staff.create("duyet", "approver")
    base = eid_world.issuer.url
    rider = chromium.new_page(locale="vi-VN")  # the rider reads Vietnamese
    rider.goto(base + "/signin")
    rider.click('button[data-sub="vn-c41d7e88"]')
    rider.wait_for_url(base + "/my/")
    rider.goto(base + "/my/free")
    rider.select_option("#category", "student")
    rider.fill("#evidence_note", "Thẻ sinh viên ĐHBK 20231234")
    rider.click("#apply button[type=submit]")
    rider.wait_for_url(base + "/my/")

    approver = chromium.new_page()
    approver.goto(base + "/console/login")
    approver.fill("#username", "duyet")
    approver.fill("#password", PASSWORD)
    approver.click("button[type=submit]")
    approver.goto(base + "/console/approvals/")
    card = approver.locator(".application").first
    assert "Thẻ sinh viên ĐHBK 20231234" in card.inner_text()
    card.locator("input[name=reason]").fill("Thẻ đã hết hạn · the card has expired")
    card.locator("button[value=reject]").click()
    approver.wait_for_url(base + "/console/approvals/")
    assert "rejected" in approver.inner_text("main")

    rider.reload()
    row = rider.locator("tr.application").first
    assert row.get_attribute("data-status") == "rejected"
    assert row.locator(".status").inner_text() == "bị từ chối"
    assert row.locator(".reason").inner_text() == "Thẻ đã hết hạn · the card has expired"
