"""Refunds the rider asks for online: the policy's amount (the whole price before the month,
then by the days left), the money back the way it came (the gateway's refund, or a transfer
a clerk records), and the pass revoked and published in the same unit of work."""

from __future__ import annotations

import datetime as dt
import re

import redis
import requests
import sqlalchemy as sa

from issuer.platform.models import AuditEntry, Order, Pass
from issuer.sales import refunds
from shared import clock, redis_keys
from shared.denylist import Denylist
from tests.payments.conftest import CSRF
from tests.payments.test_bank_transfers import credit, notify
from tests.testkit import wait_for


def hanoi(*args) -> float:
    return dt.datetime(*args, tzinfo=clock.HANOI).timestamp()


class TestPolicy:
    order = Order(month="2026-11", price_vnd=300_000)

    def test_the_whole_price_before_the_month_starts(self):
        assert refunds.quote(self.order, hanoi(2026, 10, 31, 23, 59)) == 300_000

    def test_by_the_whole_days_left_after_the_day_asked(self):
        # 10 November, 09:00: 20 whole days and 15 hours left of a 30-day month.
        assert refunds.quote(self.order, hanoi(2026, 11, 10, 9)) == 300_000 * 20 // 30
        assert refunds.quote(self.order, hanoi(2026, 11, 1, 0)) == 300_000

    def test_nothing_on_the_last_day_or_after(self):
        assert refunds.quote(self.order, hanoi(2026, 11, 30, 0, 1)) == 0
        assert refunds.quote(self.order, hanoi(2026, 12, 2)) == 0

    def test_rounded_down_to_the_dong(self):
        odd = Order(month="2026-11", price_vnd=100_001)
        assert refunds.quote(odd, hanoi(2026, 11, 10, 9)) == 100_001 * 20 // 30


def ask(shop, browser, order_id: str, reason: str = "moving to another city"):
    page = browser.get(f"{shop.issuer.url}/my/orders/{order_id}", timeout=10)
    return page, browser.post(f"{shop.issuer.url}/my/orders/{order_id}/refund", timeout=30,
                              data={"csrf_token": CSRF.search(page.text).group(1),
                                    "reason": reason})


def revoked_published(shop, config, pass_id: str) -> bool:
    """Revoked, and the denylist published after (a pass whose credentials have all
    expired, or that never had one, needs no entry in it: validators refuse it anyway)."""
    with shop.engine.connect() as conn:
        status, revoked_at = conn.execute(sa.select(Pass.status, Pass.revoked_at)
                                          .where(Pass.id == pass_id)).one()
    published = redis.Redis.from_url(config["REDIS_URL"]).get(redis_keys.DENYLIST)
    return (status == "revoked" and published is not None
            and Denylist.loads(published).issued_at >= revoked_at)


def test_a_card_payment_is_refunded_through_the_gateway(shop, initialised):
    rider = shop.rider()
    order_id = shop.order(rider)
    shop.pay(rider, order_id)
    paid = shop.wait_paid(order_id)
    page, answer = ask(shop, rider, order_id)
    quoted = int(re.search(r'id="refund-quote">([\d.]+)', page.text).group(1).replace(".", ""))
    assert answer.status_code == 200 and "refunded" in answer.text
    done = shop.order_row(order_id)
    assert done.status == "refunded" and done.refund_vnd == refunds.quote(done, done.refunded_at)
    assert done.refund_vnd in (quoted, refunds.quote(done, done.refunded_at))
    assert revoked_published(shop, initialised, paid.pass_id)
    [payment] = shop.payments(order_id)
    assert payment.state == "refunded" and "gateway" in payment.reason
    listed = requests.get(f"{shop.gateway.url}/dev/transactions.json", timeout=10).json()
    [txn] = listed["transactions"]
    assert txn["refunded"] == done.refund_vnd * 100
    with shop.engine.connect() as conn:
        [entry] = conn.execute(sa.select(AuditEntry).where(AuditEntry.action == "order.refund"))
    assert entry.actor.startswith("rider:") and entry.target == order_id


def test_a_transfer_is_refunded_by_a_clerk_who_records_it(shop, initialised):
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT900", content=f"VX{order_id}"))
    paid = shop.wait_paid(order_id)
    ask(shop, rider, order_id)
    assert shop.order_row(order_id).status == "refunded"
    assert revoked_published(shop, initialised, paid.pass_id)
    [owed] = shop.payments(order_id)
    assert owed.state == "refunding"
    clerk = shop.clerk()
    listed = clerk.get(f"{shop.issuer.url}/console/payments/", timeout=10).text
    assert f'class="refund" data-payment="{owed.id}"' in listed
    clerk.cookies.set("vexe_lang", "en")  # the refusal read in English
    refused = shop.console_post(clerk, f"/console/payments/{owed.id}/transferred", note="")
    assert "bank reference" in refused.text and shop.payments()[0].state == "refunding"
    shop.console_post(clerk, f"/console/payments/{owed.id}/transferred", note="FT-BACK-1")
    [done] = shop.payments(order_id)
    assert done.state == "refunded" and "FT-BACK-1" in done.reason
    assert done.decided_by == "thu-ngan"


def test_only_ones_own_paid_order_is_refunded(shop):
    rider = shop.rider()
    rider.cookies.set("vexe_lang", "en")  # the refusal read in English
    order_id = shop.order(rider)
    _, pending = ask(shop, rider, order_id)
    assert "only a paid order" in pending.text
    shop.pay(rider, order_id)
    shop.wait_paid(order_id)
    other = shop.rider("vn-c41d7e88")
    page = other.get(f"{shop.issuer.url}/my/", timeout=10)
    stolen = other.post(f"{shop.issuer.url}/my/orders/{order_id}/refund", timeout=10,
                        data={"csrf_token": CSRF.search(page.text).group(1), "reason": "x"})
    assert stolen.status_code == 403
    forged = rider.post(f"{shop.issuer.url}/my/orders/{order_id}/refund", timeout=10,
                        data={"reason": "no token"})
    assert forged.status_code == 400
    assert shop.order_row(order_id).status == "paid"
    wait_for(lambda: shop.deliveries() == ["00"], what="the IPN answered")
