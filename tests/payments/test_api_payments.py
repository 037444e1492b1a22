"""Paying and refunding through the JSON API, as a phone app does with the rider's token:
order, ask for the gateway's URL, pay at the development gateway in the app's browser, find
the order paid; ask for the refund. Each door refuses what is not the rider's to do."""

from __future__ import annotations

import requests

from issuer.sales import orders
from shared import clock
from tests.payments.conftest import query_of
from tests.testkit import wait_for


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def app_order(shop, token: str) -> dict:
    month = orders.months_on_sale(clock.now(), 28)[0]
    made = requests.post(f"{shop.issuer.url}/api/orders", headers=bearer(token), timeout=10,
                         json={"product": "multi", "month": month})
    assert made.status_code == 201, made.text
    return made.json()


def pay_in_the_app(shop, token: str, order_id: str) -> requests.Response:
    """The app asks for the URL, its browser pays at the gateway and comes back."""
    started = requests.post(f"{shop.issuer.url}/api/orders/{order_id}/pay/card",
                            headers=bearer(token), json={}, timeout=10)
    assert started.status_code == 200, started.text
    url = started.json()["payment_url"]
    assert url.startswith(shop.gateway.url) and started.json()["order_id"] == order_id
    assert query_of(url)["vnp_Amount"] == "20000000"
    browser = requests.Session()
    answer = shop.choose(browser, url, "pay")
    assert answer.status_code == 302
    return requests.get(answer.headers["Location"], headers=bearer(token),
                        allow_redirects=False, timeout=30)


def test_an_app_pays_by_card_and_asks_for_the_refund(shop, api):
    token = api.account(birth_date="1990-05-01")["rider_token"]
    order = app_order(shop, token)
    back = pay_in_the_app(shop, token, order["id"])
    assert back.status_code == 303 and back.headers["Location"].endswith(order["id"])
    paid = shop.wait_paid(order["id"])
    shown = requests.get(f"{shop.issuer.url}/api/orders/{order['id']}", headers=bearer(token),
                         timeout=10).json()
    assert shown["status"] == "paid" and shown["pass_id"] == paid.pass_id
    # Pressing pay again on a paid order: a clear refusal, no second payment.
    again = requests.post(f"{shop.issuer.url}/api/orders/{order['id']}/pay/card",
                          headers=bearer(token), json={}, timeout=10)
    assert again.status_code == 409 and "only a pending order" in again.json()["error"]
    assert len(shop.payments(order["id"])) == 1
    wait_for(lambda: shop.deliveries() == ["00"], what="the IPN answered")

    refunded = requests.post(f"{shop.issuer.url}/api/orders/{order['id']}/refund",
                             headers=bearer(token), json={"reason": "moving away"}, timeout=30)
    assert refunded.status_code == 200, refunded.text
    answer = refunded.json()
    assert answer["status"] == "refunded" and answer["published"] is True
    done = shop.order_row(order["id"])
    # Bought for a month that has not started, or refunded by the days left: the policy.
    assert done.refund_vnd > 0 and done.refund_vnd <= done.price_vnd
    listed = requests.get(f"{shop.gateway.url}/dev/transactions.json", timeout=10).json()
    assert listed["transactions"][0]["refunded"] == done.refund_vnd * 100
    twice = requests.post(f"{shop.issuer.url}/api/orders/{order['id']}/refund",
                          headers=bearer(token), json={"reason": "again"}, timeout=30)
    assert twice.status_code == 409 and shop.order_row(order["id"]).refund_vnd == done.refund_vnd


def test_the_doors_refuse_what_is_not_the_riders(shop, api):
    token = api.account()["rider_token"]
    order = app_order(shop, token)
    url = f"{shop.issuer.url}/api/orders/{order['id']}"
    stranger = api.account(full_name="Trần Thị Bình")["rider_token"]
    cases = [
        (None, "/pay/card", {}, 401),
        (stranger, "/pay/card", {}, 403),
        (api.operator_token, "/pay/card", {}, 403),  # riders pay their own orders
        (token, "/pay/card", {"amount": 1}, 400),  # no fields
        (stranger, "/refund", {"reason": "mine now"}, 403),
        (token, "/refund", {}, 400),  # a reason is said
        (token, "/refund", {"reason": "not paid yet"}, 409),  # only a paid order
    ]
    for who, door, body, status in cases:
        answer = requests.post(url + door, json=body, timeout=10,
                               headers=bearer(who) if who else {})
        assert answer.status_code == status, (door, who, answer.text)
        assert answer.json()["error"]
    assert shop.order_row(order["id"]).status == "pending" and shop.payments() == []
    missing = requests.post(f"{shop.issuer.url}/api/orders/NOSUCHORDR/pay/card", json={},
                            headers=bearer(token), timeout=10)
    assert missing.status_code == 404


def test_where_card_payments_are_not_offered_the_app_is_told(api):
    """An issuer with no gateway set up: a clear refusal, the order still to pay."""
    token = api.account()["rider_token"]
    month = orders.months_on_sale(clock.now(), 28)[0]
    order = api.ok("POST", "/api/orders", token=token, json={"product": "multi", "month": month})
    refused = api.call("POST", f"/api/orders/{order['id']}/pay/card", token=token, json={})
    assert refused.status_code == 403
    assert "card payments are not offered here" in refused.get_json()["error"]
    assert "không nhận thanh toán bằng thẻ" in refused.get_json()["message"]
    assert api.ok("GET", f"/api/orders/{order['id']}", token=token)["status"] == "pending"
