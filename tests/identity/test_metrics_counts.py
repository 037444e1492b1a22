"""The issuer's business counters in ``GET /metrics``, moved by the doors a rider, a clerk and
an operator use: e-ID and password sign-ins, ok and failed; orders through their states;
payments confirmed, refused, refunded. (One issuer process here; counting across gunicorn's
workers is tests/issuer/test_metrics_and_logs.py.)"""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from issuer.sales import orders
from shared import clock
from tests.identity.conftest import PASSWORD, sign_in

AN = "vn-7f3a9c21"  # a citizen of the development e-ID


def scrape(get, token: str) -> dict[tuple, float]:
    response = get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_e_id_sign_ins_ok_and_failed(eid_world):
    token = eid_world.issuer.app.config["OPERATOR_TOKEN"]

    def get(path, **kwargs):
        return requests.get(f"{eid_world.issuer.url}{path}", timeout=10, **kwargs)

    before = scrape(get, token)
    assert eid_world.sign_in(eid_world.browser(), AN).status_code == 302
    eid_world.fault("signature")  # an ID token whose signature fails
    assert eid_world.sign_in(eid_world.browser(), AN).status_code == 400
    after = scrape(get, token)
    assert moved(before, after, "vexe_issuer_sign_ins_total", who="rider", outcome="ok") == 1
    assert moved(before, after, "vexe_issuer_sign_ins_total", who="rider",
                 outcome="failed") == 1


def test_operator_sign_ins_ok_and_failed(app, staff):
    client = app.test_client()
    token = app.config["OPERATOR_TOKEN"]
    staff.create("linh", "clerk")
    before = scrape(client.get, token)
    assert sign_in(app.test_client(), "linh", "wrong password!").status_code == 401
    assert sign_in(app.test_client(), "linh", PASSWORD).status_code == 302
    after = scrape(client.get, token)
    assert moved(before, after, "vexe_issuer_sign_ins_total", who="operator",
                 outcome="failed") == 1
    assert moved(before, after, "vexe_issuer_sign_ins_total", who="operator", outcome="ok") == 1


def test_orders_and_payments_by_state(api, app, staff):
    token = app.config["OPERATOR_TOKEN"]
    clerk = staff.token("thu-ngan", "clerk")
    rider = api.account()["rider_token"]
    month = orders.months_on_sale(clock.now(), 28)[0]
    before = scrape(api.client.get, token)
    kept = api.ok("POST", "/api/orders", token=rider, json={"product": "multi", "month": month})
    dropped = api.ok("POST", "/api/orders", token=rider,
                     json={"product": "single", "route": api.route("32")["code"], "month": month})
    wrong = api.call("POST", f"/api/orders/{kept['id']}/pay", token=clerk,
                     json={"amount_vnd": 1})
    assert wrong.status_code == 400
    api.ok("POST", f"/api/orders/{kept['id']}/pay", token=clerk, json={"amount_vnd": 200_000})
    api.ok("POST", f"/api/orders/{dropped['id']}/cancel", token=rider)
    api.ok("POST", f"/api/orders/{kept['id']}/refund", token=clerk, json={"reason": "moved"})
    after = scrape(api.client.get, token)
    assert {state: moved(before, after, "vexe_issuer_orders_total", state=state)
            for state in ("pending", "paid", "cancelled", "refunded")} == {
        "pending": 2, "paid": 1, "cancelled": 1, "refunded": 1}
    assert {state: moved(before, after, "vexe_issuer_payments_total", provider="counter",
                         state=state) for state in ("confirmed", "refused", "refunded")} == {
        "confirmed": 1, "refused": 1, "refunded": 1}
