"""Fair rules after a revocation, and the clerk's amounts, through the doors staff and riders
use: a pass revoked for fraud keeps its account from a new free pass until a clerk decides; a
pass revoked by mistake can be restored or bought again; the counter reads amounts as clerks
type them and refuses one it cannot read for certain."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from issuer.console import amounts
from issuer.platform.models import AuditEntry, Order, Pass
from shared import clock
from tests.identity.conftest import page_csrf


def born_years_ago(years: int) -> str:
    today = dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date()
    return today.replace(year=today.year - years, day=1).isoformat()


def this_month() -> str:
    return dt.datetime.fromtimestamp(clock.now(), clock.HANOI).strftime("%Y-%m")


def count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def admin(staff):
    return staff.token("quan-tri", "administrator")


def revoke(api, admin, pass_id, code, reason="checked on the bus"):
    return api.ok("POST", f"/api/passes/{pass_id}/revoke", token=admin,
                  json={"reason": reason, "code": code})


def test_fraud_holds_a_new_free_pass_until_a_clerk_allows_it(api, admin, staff, session):
    token = api.account(birth_date=born_years_ago(70))["rider_token"]
    first = api.ok("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    revoke(api, admin, first["id"], "fraud", "papers were false")

    asked = api.call("POST", "/api/free-passes", token=token, json={"category": "elderly"},
                     headers={"Accept-Language": "vi"})
    assert asked.status_code == 403
    assert "clerk" in asked.get_json()["error"]
    assert "Gian lận" in asked.get_json()["message"] or "gian lận" in asked.get_json()["message"]
    assert count(session, Pass) == 1

    clerk = staff.browser("thu-ngan", "clerk")
    held = clerk.get("/console/approvals/held")
    account_id = session.get(Pass, first["id"]).account_id
    assert held.status_code == 200 and account_id in held.text
    csrf = page_csrf(clerk, "/console/approvals/held")
    no_note = clerk.post(f"/console/approvals/held/{account_id}", data={"csrf_token": csrf})
    assert no_note.status_code == 303
    assert count(session, AuditEntry, AuditEntry.action == "account.allow_free_pass") == 0
    assert api.call("POST", "/api/free-passes", token=token,
                    json={"category": "elderly"}).status_code == 403

    allowed = clerk.post(f"/console/approvals/held/{account_id}",
                         data={"csrf_token": csrf, "note": "papers checked at the counter"})
    assert allowed.status_code == 303
    [entry] = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "account.allow_free_pass")).all()
    assert entry.actor == "thu-ngan" and entry.reason == "papers checked at the counter"
    again = api.call("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    assert again.status_code == 201, again.get_json()


def test_allowing_again_needs_a_clerk_and_the_form_token(api, admin, staff, session):
    token = api.account(birth_date=born_years_ago(70))["rider_token"]
    p = api.ok("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    revoke(api, admin, p["id"], "cloned_qr")
    account_id = session.get(Pass, p["id"]).account_id
    analyst = staff.browser("phan-tich", "analyst")
    assert analyst.get("/console/approvals/held").status_code == 403
    clerk = staff.browser("thu-ngan", "clerk")
    forged = clerk.post(f"/console/approvals/held/{account_id}", data={"note": "no token"})
    assert forged.status_code == 400
    assert count(session, AuditEntry, AuditEntry.action == "account.allow_free_pass") == 0


def test_a_pass_revoked_by_mistake_can_be_bought_again_for_its_month(api, admin, staff):
    clerk = staff.token("thu-ngan", "clerk")
    token = api.account()["rider_token"]
    order = api.ok("POST", "/api/orders", token=token,
                   json={"product": "multi", "month": this_month()})
    paid = api.ok("POST", f"/api/orders/{order['id']}/pay", token=clerk,
                  json={"amount_vnd": order["price_vnd"]})
    revoke(api, admin, paid["pass_id"], "mistake", "wrong rider's pass")
    again = api.call("POST", "/api/orders", token=token,
                     json={"product": "multi", "month": this_month()})
    assert again.status_code == 201, again.get_json()


def test_restore_from_the_counter_is_for_a_mistake_only(api, admin, staff, session):
    clerk = staff.token("thu-ngan", "clerk")
    token = api.account()["rider_token"]
    order = api.ok("POST", "/api/orders", token=token,
                   json={"product": "multi", "month": this_month()})
    pass_id = api.ok("POST", f"/api/orders/{order['id']}/pay", token=clerk,
                     json={"amount_vnd": order["price_vnd"]})["pass_id"]
    revoke(api, admin, pass_id, "shared_pass")
    boss = staff.browser("quan-tri-2", "administrator")
    csrf = page_csrf(boss, f"/console/counter/passes/{pass_id}")
    refused = boss.post(f"/console/counter/passes/{pass_id}/restore",
                        data={"csrf_token": csrf, "note": "asked"})
    assert refused.status_code == 409
    session.expire_all()
    assert session.get(Pass, pass_id).status == "revoked"

    other = api.account()["rider_token"]
    o2 = api.ok("POST", "/api/orders", token=other, json={"product": "multi",
                                                          "month": this_month()})
    p2 = api.ok("POST", f"/api/orders/{o2['id']}/pay", token=clerk,
                json={"amount_vnd": o2["price_vnd"]})["pass_id"]
    revoke(api, admin, p2, "mistake")
    done = boss.post(f"/console/counter/passes/{p2}/restore",
                     data={"csrf_token": csrf, "note": "revoked the wrong pass"})
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Pass, p2).status == "active"


@pytest.mark.parametrize("typed, amount", [
    ("100.000", 100_000), ("100,000", 100_000), ("100 000", 100_000), ("100000", 100_000),
    ("100.000 ₫", 100_000), ("100.000đ", 100_000), ("100000 VND", 100_000), ("100k", 100_000),
    ("1.000.000", 1_000_000), ("\u00a0200.000\u00a0₫", 200_000)])
def test_amounts_as_clerks_type_them(typed, amount):
    assert amounts.parse(typed) == amount


@pytest.mark.parametrize("typed", ["", "abc", "100.5", "1,00", "1.5k", "100.000.00", "-100",
                                   "0", "100.000,000", "1e5", "١٠٠"])
def test_an_amount_not_read_for_certain_is_refused(typed):
    assert amounts.parse(typed) is None


def test_the_counter_takes_the_price_as_typed_and_refuses_a_doubtful_amount(api, staff,
                                                                           session):
    token = api.account()["rider_token"]
    order = api.ok("POST", "/api/orders", token=token,
                   json={"product": "multi", "month": this_month()})
    clerk = staff.browser("thu-ngan", "clerk")
    csrf = page_csrf(clerk, f"/console/counter/{order['id']}")
    doubtful = clerk.post(f"/console/counter/{order['id']}/pay",
                          data={"csrf_token": csrf, "amount_vnd": "200.5"},
                          headers={"Accept-Language": "en"})
    assert doubtful.status_code == 400
    assert "not an amount we can read for certain" in doubtful.text
    assert 'value="200.5"' in doubtful.text  # kept as typed
    assert count(session, Order, Order.status == "paid") == 0
    grouped = f"{order['price_vnd']:,}".replace(",", ".") + " ₫"
    paid = clerk.post(f"/console/counter/{order['id']}/pay",
                      data={"csrf_token": csrf, "amount_vnd": grouped})
    assert paid.status_code == 302, paid.text
    assert count(session, Order, Order.status == "paid") == 1
