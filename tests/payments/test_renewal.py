"""Renew for next month in one tap, from the account page: the same product for the month
after the pass, offered once next month is on sale and not yet ordered."""

from __future__ import annotations

import re

import pytest

from issuer.sales import orders
from shared import clock
from tests.payments.conftest import CSRF, served_shop
from tests.payments.test_bank_transfers import credit, notify


@pytest.fixture
def early_sales(initialised):
    """Next month on sale from the 1st: whatever today is, there is a next month to renew."""
    with served_shop({**initialised, "SALES_OPEN_DAY": 1},
                     initialised["DATABASE_URL"]) as shop:
        yield shop


def test_renew_for_next_month_in_one_tap(early_sales):
    shop = early_sales
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-N1", content=f"VX{order_id}"))
    home = rider.get(f"{shop.issuer.url}/my/", timeout=10).text
    pass_id = shop.order_row(order_id).pass_id
    assert f"/my/passes/{pass_id}/renew" in home and "Gia hạn tháng sau" in home
    renewed = rider.post(f"{shop.issuer.url}/my/passes/{pass_id}/renew", timeout=10,
                         allow_redirects=False,
                         data={"csrf_token": CSRF.search(home).group(1)})
    assert renewed.status_code == 303
    new_id = re.search(r"/my/orders/([0-9A-Z]{10})$", renewed.headers["Location"]).group(1)
    new = shop.order_row(new_id)
    next_month = orders.months_on_sale(clock.now(), 1)[1]
    assert (new.product, new.month, new.status) == ("multi", next_month, "pending")
    again = rider.get(f"{shop.issuer.url}/my/", timeout=10).text
    assert "Gia hạn tháng sau" not in again  # ordered already
    twice = rider.post(f"{shop.issuer.url}/my/passes/{pass_id}/renew", timeout=10,
                       data={"csrf_token": CSRF.search(again).group(1)},
                       cookies={"vexe_lang": "en"})
    assert "already" in twice.text and len(shop.payments()) == 1


def test_no_renewal_before_next_month_is_on_sale_nor_of_anothers_pass(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-N2", content=f"VX{order_id}"))
    pass_id = shop.order_row(order_id).pass_id
    if len(orders.months_on_sale(clock.now(), 20)) == 1:  # before the 20th, Hanoi time
        assert "Gia hạn tháng sau" not in rider.get(f"{shop.issuer.url}/my/",
                                                       timeout=10).text
    other = shop.rider("vn-c41d7e88")
    page = other.get(f"{shop.issuer.url}/my/", timeout=10).text
    stolen = other.post(f"{shop.issuer.url}/my/passes/{pass_id}/renew", timeout=10,
                        data={"csrf_token": CSRF.search(page).group(1)})
    assert stolen.status_code == 403
