"""Money that paid nothing is held for a clerk, who applies it to an order or gives it back,
at ``/console/payments``: each an audited action, through the console's forms."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from issuer.platform.models import AuditEntry, Order
from tests.payments.conftest import query_of
from tests.testkit import wait_for


def expire(shop, order_id: str) -> None:
    with shop.engine.begin() as conn:
        conn.execute(sa.update(Order).where(Order.id == order_id).values(expires_at=1))


def held_after_expiry(shop):
    """A rider starts paying, the order expires meanwhile, the gateway's money comes: held."""
    rider = shop.rider()
    order_id = shop.order(rider)
    pay_url = shop.to_gateway(rider, order_id)
    expire(shop, order_id)
    shop.choose(rider, pay_url, "pay")
    wait_for(lambda: shop.deliveries() == ["02"], what="the IPN answered")
    [held] = shop.payments(order_id)
    assert held.state == "held" and shop.order_row(order_id).status == "expired"
    return rider, order_id, held, query_of(pay_url)["vnp_TxnRef"]


def audit(shop, action: str) -> list:
    with shop.engine.connect() as conn:
        return list(conn.execute(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_the_held_page_is_for_clerks(shop):
    rider = shop.rider()
    assert rider.get(f"{shop.issuer.url}/console/payments/", allow_redirects=False,
                     timeout=10).status_code in (302, 403)
    anonymous = requests.get(f"{shop.issuer.url}/console/payments/", allow_redirects=False,
                             timeout=10)
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]


def test_a_clerk_applies_held_money_and_the_pass_is_issued(shop):
    _, order_id, held, _ = held_after_expiry(shop)
    clerk = shop.clerk()
    page = clerk.get(f"{shop.issuer.url}/console/payments/", timeout=10)
    assert f'data-payment="{held.id}"' in page.text and "hết hạn trước khi tiền về" in page.text
    done = shop.console_post(clerk, f"/console/payments/{held.id}/apply", order_id=order_id)
    assert "Đã áp dụng" in done.text
    paid = shop.order_row(order_id)
    assert paid.status == "paid" and paid.pass_id
    assert [p.state for p in shop.payments(order_id)] == ["applied"]
    [entry] = audit(shop, "payment.apply")
    assert entry.actor == "thu-ngan" and entry.target == str(held.id)
    clerk.cookies.set("vexe_lang", "en")  # the refusal read in English from here on
    again = shop.console_post(clerk, f"/console/payments/{held.id}/apply", order_id=order_id)
    assert "not held" in again.text and [p.state for p in shop.payments()] == ["applied"]


def test_a_clerk_refunds_held_card_money_through_the_gateway(shop):
    _, order_id, held, reference = held_after_expiry(shop)
    clerk = shop.clerk()
    done = shop.console_post(clerk, f"/console/payments/{held.id}/refund",
                             reason="order expired; rider bought again")
    assert "Đã hoàn tiền" in done.text
    [payment] = shop.payments(order_id)
    assert payment.state == "refunded" and "gateway refund" in payment.reason
    listed = requests.get(f"{shop.gateway.url}/dev/transactions.json", timeout=10).json()
    [txn] = [t for t in listed["transactions"] if t["txn_ref"] == reference]
    assert txn["state"] == "refunded" and txn["refunded"] == int(txn["amount"])
    assert shop.order_row(order_id).status == "expired" and len(audit(shop, "payment.refund")) == 1


def test_a_refund_needs_a_reason_and_short_money_is_not_applied(shop):
    _, order_id, held, _ = held_after_expiry(shop)
    clerk = shop.clerk()
    clerk.cookies.set("vexe_lang", "en")  # the refusals read in English
    refused = shop.console_post(clerk, f"/console/payments/{held.id}/refund", reason="")
    assert "reason" in refused.text
    wrong = shop.console_post(clerk, f"/console/payments/{held.id}/apply", order_id="NOSUCHORDR")
    assert "no order" in wrong.text
    assert [p.state for p in shop.payments()] == ["held"]
    assert audit(shop, "payment.refund") == [] and audit(shop, "payment.apply") == []
