"""A refusal speaks the caller's language: through the HTTP API, ``error`` stays the stable
English a program reads, and ``message`` says the same to the person, in Vietnamese or in
English, its values filled in and its codes (a status, a fare category) said as words."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from issuer.platform.models import Order, Pass
from issuer.sales import orders
from shared import clock

VI = {"Accept-Language": "vi"}
EN = {"Accept-Language": "en"}


def this_month() -> str:
    return orders.months_on_sale(clock.now(), 28)[0]


def born_years_ago(years: int) -> str:
    """Born on 1 January: ``years`` old on the first day of any month of this year (a free
    pass starts on the first of its month, and the age is taken then)."""
    today = dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date()
    return dt.date(today.year - years, 1, 1).isoformat()


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def both(api, method, path, token, body):
    """The same refused request in Vietnamese and in English."""
    vi = api.call(method, path, token=token, json=body, headers=dict(VI))
    en = api.call(method, path, token=token, json=body, headers=dict(EN))
    assert vi.status_code == en.status_code
    return vi.status_code, vi.get_json(), en.get_json()


@pytest.fixture
def rider(api):
    return api.account(birth_date=born_years_ago(36))["rider_token"]


def test_a_single_route_order_without_a_route(api, rider, session):
    status, vi, en = both(api, "POST", "/api/orders", rider,
                          {"product": "single", "month": this_month()})
    assert status == 400
    assert vi["error"] == en["error"] == en["message"] == "a single-route pass needs a route"
    assert vi["message"] == "vé một tuyến cần chọn một tuyến"
    assert count(session, Order) == 0


def test_an_order_for_a_month_not_on_sale(api, rider, session):
    on_sale = ", ".join(orders.months_on_sale(clock.now(), 28))
    status, vi, en = both(api, "POST", "/api/orders", rider,
                          {"product": "multi", "month": "2001-01"})
    assert status == 400
    assert vi["error"] == en["error"] == en["message"] == (
        f"month must be one on sale now: {on_sale}, got '2001-01'")
    assert vi["message"] == (f"tháng phải là một tháng đang mở bán: {on_sale}, "
                             "nhận được '2001-01'")
    assert count(session, Order) == 0


def test_a_free_pass_for_a_category_of_another_age(api, rider, session):
    status, vi, en = both(api, "POST", "/api/free-passes", rider, {"category": "elderly"})
    assert status == 400
    assert vi["error"] == en["error"] == (
        "category elderly is for ages 60 and over; the account holder is 36")
    # The category by its name, in the reader's language.
    assert en["message"] == (
        "category Elderly people is for ages 60 and over; the account holder is 36")
    assert vi["message"] == ("đối tượng Người cao tuổi dành cho người từ 60 tuổi trở lên; "
                             "chủ tài khoản 36 tuổi")
    assert count(session, Pass) == 0


def test_a_status_inside_a_message_is_said_as_a_word(api, rider):
    made = api.call("POST", "/api/orders", token=rider,
                    json={"product": "multi", "month": this_month()})
    assert made.status_code == 201
    order_id = made.get_json()["id"]
    api.ok("POST", f"/api/orders/{order_id}/cancel", token=rider, json={})
    status, vi, en = both(api, "POST", f"/api/orders/{order_id}/cancel", rider, {})
    assert status == 409
    assert vi["error"] == en["error"] == (
        f"order {order_id} is cancelled: only a pending order is cancelled")
    assert vi["message"] == (f"đơn hàng {order_id} đang ở trạng thái đã hủy: chỉ hủy được "
                             "đơn hàng đang chờ thanh toán")


def test_a_bad_body_is_said_in_the_callers_language(api, rider):
    status, vi, en = both(api, "POST", "/api/orders", rider,
                          {"product": 5, "month": this_month(), "colour": "red"})
    assert status == 400
    assert vi["error"] == en["error"] == en["message"]
    assert vi["message"] != vi["error"] and "trường" in vi["message"]
    status, vi, en = both(api, "POST", "/api/orders", rider, {"product": "multi"})
    assert (vi["error"], vi["message"]) == ("field 'month' is required", "cần có trường 'month'")


def test_no_language_asked_is_vietnamese(api, rider):
    answer = api.call("POST", "/api/orders", token=rider, json={"product": "single",
                                                                "month": this_month()})
    assert answer.get_json() == {"error": "a single-route pass needs a route",
                                 "message": "vé một tuyến cần chọn một tuyến"}
