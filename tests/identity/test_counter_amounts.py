"""Amounts as clerks type them at the sales counter: what the reader makes of each way of
writing đồng (``issuer.console.amounts``), and what the counter's form does with it: the
price, however typed, pays the order; an amount not read for certain, or not the price, is
refused with what was typed kept, and nothing is taken."""

from __future__ import annotations

import pytest

from issuer.console import amounts
from issuer.platform.models import Order
from tests.identity.conftest import csrf_from
from tests.identity.test_orders import order


@pytest.mark.parametrize("typed, amount", [
    ("100.000", 100_000), ("100,000", 100_000), ("100 000", 100_000), ("100000", 100_000),
    ("100.000 ₫", 100_000), ("100.000đ", 100_000), ("100000 VND", 100_000), ("100k", 100_000),
    ("1.000.000", 1_000_000), ("\u00a0200.000\u00a0₫", 200_000)])
def test_amounts_as_clerks_type_them(typed, amount):
    assert amounts.parse(typed) == amount


@pytest.mark.parametrize("typed", ["", "abc", "100.5", "1,00", "1.5k", "100.000.00", "-100",
                                   "0", "100.000,000", "200.000,00", "20.0000", "1e5", "١٠٠"])
def test_an_amount_not_read_for_certain_is_refused(typed):
    assert amounts.parse(typed) is None


def grouped(vnd: int) -> str:
    return f"{vnd:,}".replace(",", ".")


def pay(api, staff, amount):
    """A new rider's order, and a clerk's form paying it with ``amount(price)`` as typed."""
    made = order(api, api.account()["rider_token"]).get_json()
    clerk = staff.browser("thu-ngan", "clerk")
    page = f"/console/counter/{made['id']}"
    typed = amount(made["price_vnd"])
    answer = clerk.post(f"{page}/pay", data={"csrf_token": csrf_from(clerk.get(page).text),
                                             "amount_vnd": typed},
                        headers={"Accept-Language": "en"})
    return made["id"], typed, answer


def test_the_counter_takes_the_price_as_a_clerk_types_it(api, staff, session):
    order_id, _, done = pay(api, staff, lambda price: f"{grouped(price)} ₫")
    assert done.status_code == 302 and done.location.endswith(f"/{order_id}/receipt")
    assert session.get(Order, order_id).status == "paid"


@pytest.mark.parametrize("amount, said", [
    (lambda price: "200.5", "is not an amount we can read for certain"),
    (lambda price: grouped(price - 1), "the amount taken must be the order&#39;s price")],
    ids=["unreadable", "not-the-price"])
def test_the_counter_refuses_an_amount_and_keeps_it(api, staff, session, amount, said):
    order_id, typed, refused = pay(api, staff, amount)
    assert refused.status_code == 400
    assert 'class="flash error"' in refused.text and said in refused.text
    assert f'value="{typed}"' in refused.text  # kept as typed
    session.expire_all()
    assert session.get(Order, order_id).status == "pending"
