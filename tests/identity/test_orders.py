"""Buying a monthly pass: the order, payment at the counter, cancel, refund; the months on
sale in Hanoi time; who may do which step."""

import datetime as dt

import pytest
import redis
import sqlalchemy as sa

from issuer.sales import orders
from issuer.platform.errors import Forbidden, Invalid
from issuer.platform.models import AuditEntry, Order, Pass
from shared import clock
from shared.denylist import Denylist
from shared import redis_keys


def hanoi(*args) -> float:
    return dt.datetime(*args, tzinfo=clock.HANOI).timestamp()


def this_month() -> str:
    return orders.months_on_sale(clock.now(), 28)[0]


@pytest.fixture
def rider(api):
    account = api.account()
    return account["rider_token"], account


@pytest.fixture
def clerk(staff):
    return staff.token("thu-ngan", "clerk")


def order(api, token, **fields):
    body = {"product": "multi", "month": this_month(), **fields}
    return api.call("POST", "/api/orders", token=token, json=body)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


class TestMonthsOnSale:
    @pytest.mark.parametrize(("now", "open_day", "months"), [
        (hanoi(2026, 11, 19, 23, 59), 20, ["2026-11"]),
        (hanoi(2026, 11, 20, 0, 0), 20, ["2026-11", "2026-12"]),
        (hanoi(2026, 12, 25), 20, ["2026-12", "2027-01"]),
        (hanoi(2026, 11, 30, 23, 59), 28, ["2026-11", "2026-12"]),
        # 17:00 UTC on 30 November is already 1 December in Hanoi.
        (dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.timezone.utc).timestamp(), 20,
         ["2026-12"]),
    ])
    def test_this_month_always_next_from_the_opening_day(self, now, open_day, months):
        assert orders.months_on_sale(now, open_day) == months

    def test_next_month_refused_before_the_opening_day(self, session, api, rider):
        _, account = rider
        with pytest.raises(Invalid, match="month must be one on sale now: 2026-11"):
            orders.create(session, account["id"], "multi", "2026-12",
                          now=hanoi(2026, 11, 19, 12), open_day=20)
        made = orders.create(session, account["id"], "multi", "2026-12",
                             now=hanoi(2026, 11, 20, 8), open_day=20)
        assert made.status == "pending" and made.price_vnd == 200_000

    def test_a_past_month_is_refused(self, api, rider, session):
        token, _ = rider
        response = order(api, token, month="2020-01")
        assert response.status_code == 400 and "on sale" in response.get_json()["error"]
        assert count(session, Order) == 0


class TestBuying:
    def test_order_pay_and_the_pass_is_issued(self, api, rider, clerk, session):
        token, account = rider
        made = order(api, token)
        assert made.status_code == 201
        o = made.get_json()
        assert o["status"] == "pending" and o["price_vnd"] == 200_000 and o["pass_id"] is None
        assert o["id"] in o["payment_instructions"]["vi"]
        assert api.ok("GET", "/api/me/passes", token=token)["passes"] == []
        paid = api.ok("POST", f"/api/orders/{o['id']}/pay", token=clerk,
                      json={"amount_vnd": 200_000})
        assert paid["status"] == "paid" and paid["payment_ref"].startswith("Q")
        assert paid["handled_by"] == "thu-ngan"
        [p] = api.ok("GET", "/api/me/passes", token=token)["passes"]
        assert p["id"] == paid["pass_id"] and p["product"] == "multi"
        assert p["account_id"] == account["id"]
        entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "order.pay")).one()
        assert (entry.actor, entry.target) == ("thu-ngan", o["id"])
        assert "receipt" in entry.reason

    def test_single_route_pass_at_a_reduced_price_needs_an_approval(self, api, rider, staff):
        token, _ = rider
        api.route("32")
        refused = order(api, token, product="single", route="32", category="student")
        assert refused.status_code == 403 and "approved application" in refused.get_json()["error"]
        applied = api.ok("POST", "/api/applications", token=token,
                         json={"category": "student", "evidence_note": "Thẻ SV 2024-0042"})
        approver = staff.token("duyet", "approver")
        api.ok("POST", f"/api/applications/{applied['id']}/approve", token=approver, json={})
        made = order(api, token, product="single", route="32", category="student")
        assert made.status_code == 201 and made.get_json()["price_vnd"] == 55_000

    @pytest.mark.parametrize(("body", "message"), [
        ({"product": "free", "month": "{m}"}, "an order is for a monthly pass"),
        ({"product": "single", "month": "{m}"}, "a single-route pass needs a route"),
        ({"product": "multi", "month": "{m}", "route": "32"}, "covers no single route"),
        ({"product": "multi", "month": "13-2026"}, "on sale"),
        ({"product": "multi", "month": "{m}", "category": "elderly"}, "a reduced fare category"),
        ({"product": "multi"}, "field 'month' is required"),
        ({"product": 5, "month": "{m}"}, "must be a string"),
        ({"product": "multi", "month": "{m}", "colour": "red"}, "unknown field 'colour'"),
    ])
    def test_bad_orders_are_400_and_change_nothing(self, api, rider, session, body, message):
        token, _ = rider
        api.route("32")
        body = {k: v.replace("{m}", this_month()) if isinstance(v, str) else v
                for k, v in body.items()}
        response = api.call("POST", "/api/orders", token=token, json=body)
        assert response.status_code == 400 and message in response.get_json()["error"]
        assert count(session, Order) == 0

    def test_the_same_pass_twice_is_a_conflict(self, api, rider):
        token, _ = rider
        assert order(api, token).status_code == 201
        assert order(api, token).status_code == 409

    def test_wrong_amount_is_refused_and_nothing_changes(self, api, rider, clerk, session):
        token, _ = rider
        o = order(api, token).get_json()
        for amount in (199_000, 0, -1, "200000", 200_000.0):
            response = api.call("POST", f"/api/orders/{o['id']}/pay", token=clerk,
                                json={"amount_vnd": amount})
            assert response.status_code == 400
        assert api.ok("GET", f"/api/orders/{o['id']}", token=token)["status"] == "pending"
        assert count(session, Pass) == 0

    def test_paying_twice_is_a_conflict(self, api, rider, clerk, session):
        token, _ = rider
        o = order(api, token).get_json()
        api.ok("POST", f"/api/orders/{o['id']}/pay", token=clerk, json={"amount_vnd": 200_000})
        again = api.call("POST", f"/api/orders/{o['id']}/pay", token=clerk,
                         json={"amount_vnd": 200_000})
        assert again.status_code == 409 and count(session, Pass) == 1

    def test_cancel_before_payment(self, api, rider, clerk, session):
        token, _ = rider
        o = order(api, token).get_json()
        assert api.ok("POST", f"/api/orders/{o['id']}/cancel", token=token)["status"] == "cancelled"
        late = api.call("POST", f"/api/orders/{o['id']}/pay", token=clerk,
                        json={"amount_vnd": 200_000})
        assert late.status_code == 409 and count(session, Pass) == 0
        assert order(api, token).status_code == 201  # a cancelled order blocks nothing

    def test_refund_after_payment_revokes_and_publishes(self, api, rider, clerk, redis_url):
        token, _ = rider
        o = order(api, token).get_json()
        paid = api.ok("POST", f"/api/orders/{o['id']}/pay", token=clerk,
                      json={"amount_vnd": 200_000})
        cancel = api.call("POST", f"/api/orders/{o['id']}/cancel", token=token)
        assert cancel.status_code == 409 and "refunded" in cancel.get_json()["error"]
        bad = api.call("POST", f"/api/orders/{o['id']}/refund", token=clerk, json={"reason": " "})
        assert bad.status_code == 400
        # The pass had a credential out, so the revocation must reach validators.
        api.ok("POST", f"/api/passes/{paid['pass_id']}/custodial", token=token)
        refunded = api.ok("POST", f"/api/orders/{o['id']}/refund", token=clerk,
                          json={"reason": "rider moved away"})
        assert refunded["status"] == "refunded" and refunded["published"] is True
        p = api.ok("GET", f"/api/passes/{paid['pass_id']}", token=token)
        assert p["status"] == "revoked" and p["revoke_reason"] == "refund: rider moved away"
        deny = Denylist.loads(redis.Redis.from_url(redis_url).get(redis_keys.DENYLIST))
        assert deny.is_revoked(paid["pass_id"])
        assert api.call("POST", f"/api/orders/{o['id']}/refund", token=clerk,
                        json={"reason": "again"}).status_code == 409


class TestWhoMay:
    def test_a_rider_sees_only_their_own_orders(self, api, rider):
        token, _ = rider
        other = api.account()["rider_token"]
        o = order(api, token).get_json()
        for method, path in (("GET", f"/api/orders/{o['id']}"),
                             ("POST", f"/api/orders/{o['id']}/cancel")):
            response = api.call(method, path, token=other)
            assert response.status_code == 403
        assert api.ok("GET", f"/api/orders/{o['id']}", token=token)["status"] == "pending"

    @pytest.mark.parametrize("role", ["approver", "analyst"])
    def test_only_clerks_take_payments(self, api, rider, staff, role):
        token, _ = rider
        o = order(api, token).get_json()
        other = staff.token(f"op-{role}", role)
        for method, path, body in (("POST", f"/api/orders/{o['id']}/pay", {"amount_vnd": 200_000}),
                                   ("POST", f"/api/orders/{o['id']}/refund", {"reason": "x"}),
                                   ("GET", "/api/orders", None),
                                   ("GET", f"/api/orders/{o['id']}", None)):
            assert api.call(method, path, token=other, json=body).status_code == 403
        assert api.call("POST", f"/api/orders/{o['id']}/pay", token=token,
                        json={"amount_vnd": 200_000}).status_code == 403
        assert api.ok("GET", f"/api/orders/{o['id']}", token=token)["status"] == "pending"

    def test_operators_cannot_order_as_riders(self, api, clerk):
        response = api.call("POST", "/api/orders", token=clerk,
                            json={"product": "multi", "month": this_month()})
        assert response.status_code == 403

    def test_clerk_finds_orders_by_name(self, api, clerk):
        token = api.account(full_name="Đỗ Thị Mai")["rider_token"]
        o = order(api, token).get_json()
        found = api.ok("GET", "/api/orders", token=clerk, query_string={"q": "thị mai"})
        assert [x["id"] for x in found["orders"]] == [o["id"]]
        assert api.ok("GET", "/api/orders", token=clerk,
                      query_string={"q": "%"})["orders"] == []
        assert api.call("GET", "/api/orders", token=clerk,
                        query_string={"status": "lost"}).status_code == 400


def test_level_one_account_cannot_order(session, api):
    from issuer.identity import accounts
    account, _ = accounts.create(session, "Phạm Minh Đức", "1988-11-02", now=clock.now(),
                                 identity_level=1)
    with pytest.raises(Forbidden, match="level-2"):
        orders.create(session, account.id, "multi", this_month(), now=clock.now(), open_day=20)
