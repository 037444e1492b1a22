"""Passes in the administrator's console: find, see, revoke after a confirmation, restore;
every refusal leaves the pass as it was; every action is in the audit log."""

from __future__ import annotations

import redis

from issuer.platform import db
from issuer.sales import actions as sales
from issuer.sales import orders
from shared import clock, redis_keys
from tests.admin.conftest import audit_entries


def a_pass(api, national_id: str | None = None) -> dict:
    body = {"full_name": "Nguyễn Văn An", "birth_date": "1990-05-01"}
    if national_id:
        body["national_id"] = national_id
    account = api.ok("POST", "/api/accounts", json=body)
    return api.issue(account["id"])


def denylisted(app) -> str:
    """The denylist validators read, as Redis holds it."""
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    try:
        return (client.get(redis_keys.DENYLIST) or b"").decode()
    finally:
        client.close()


def status_of(api, pass_id: str) -> str:
    return api.ok("GET", f"/api/passes/{pass_id}")["status"]


def test_find_by_pass_account_and_national_id(admin, api):
    p = a_pass(api, national_id="001090012345")
    for q in (p["id"], p["account_id"].lower(), "001090012345"):
        page = admin.get("/console/admin/passes/", query_string={"q": q})
        assert page.status_code == 200
        assert f'/console/admin/passes/{p["id"]}' in page.text, q
    nothing = admin.get("/console/admin/passes/", query_string={"q": "ZZZZZZZZZZ"})
    assert "No pass matches." in nothing.text


def sold(api, app) -> tuple[str, str]:
    """A pass sold at the counter: its order's number and the pass's id."""
    account = api.account()
    with db.session(app.config["DATABASE_URL"]) as s:
        order = orders.create(s, account["id"], "multi", orders.months_on_sale(clock.now(), 20)[0],
                              now=clock.now(), open_day=20)
        s.commit()
        paid = sales.take_payment(s, "thu-ngan", order.id, order.price_vnd, now=clock.now())
        return paid.id, paid.pass_id


def test_find_by_order(admin, api, app):
    order_id, pass_id = sold(api, app)
    page = admin.get("/console/admin/passes/", query_string={"q": order_id})
    assert f"/console/admin/passes/{pass_id}" in page.text


def test_a_short_national_id_is_said(admin):
    page = admin.get("/console/admin/passes/", query_string={"q": "12345"})
    assert page.status_code == 400
    assert "a national ID number has 12 digits" in page.text
    assert 'value="12345"' in page.text


def clock_month_en() -> str:
    from shared import i18n
    year, month = clock.hanoi_month(clock.now())
    return i18n.month(f"{year:04d}-{month:02d}", "en")


def test_pass_page_says_holder_product_status_device(admin, api):
    p = a_pass(api)
    page = admin.get(f"/console/admin/passes/{p['id']}")
    assert page.status_code == 200
    assert "Nguyễn Văn An" in page.text and "all routes" in page.text
    assert "valid" in page.text and "on no device" in page.text
    assert clock_month_en() in page.text
    assert page.headers["Cache-Control"] == "no-store"
    admin.client.set_cookie("vexe_lang", "vi")
    vi = admin.get(f"/console/admin/passes/{p['id']}")
    assert "Chủ thẻ" in vi.text and "còn hiệu lực" in vi.text


def test_revoke_confirms_first_then_revokes_audits_publishes(admin, api, app):
    p = a_pass(api)
    asked = admin.post(f"/console/admin/passes/{p['id']}/revoke",
                       {"reason": "shared_pass", "note": "lent to a friend"})
    assert asked.status_code == 200
    assert "Revoke pass" in asked.text and 'name="confirmed" value="yes"' in asked.text
    assert status_of(api, p["id"]) == "active"  # nothing done before the confirmation
    done = admin.post(f"/console/admin/passes/{p['id']}/revoke",
                      {"reason": "shared_pass", "note": "lent to a friend", "confirmed": "yes"})
    assert done.status_code == 303
    assert status_of(api, p["id"]) == "revoked"
    [entry] = audit_entries(app, "pass.revoke")
    assert (entry.actor, entry.target) == ("quan-tri", p["id"])
    assert entry.reason == "shared_pass: lent to a friend"
    page = admin.get(done.headers["Location"])
    assert f"Pass {p['id']} is revoked." in page.text
    assert "Restore this pass" in page.text


def test_revoke_refused_without_a_reason_or_with_an_unknown_one(admin, api, app):
    p = a_pass(api)
    for data in ({"note": "typed"}, {"reason": "because", "note": "typed"},
                 {"reason": "other", "note": "", "confirmed": "yes"}):
        page = admin.post(f"/console/admin/passes/{p['id']}/revoke", data)
        assert page.status_code == 400, data
        assert ("choose a reason for the revocation from the list" in page.text
                or "say why in the note" in page.text)
        assert status_of(api, p["id"]) == "active"
    kept = admin.post(f"/console/admin/passes/{p['id']}/revoke", {"note": "typed here"})
    assert 'value="typed here"' in kept.text
    assert audit_entries(app, "pass.revoke") == []


def test_revoke_without_csrf_or_role_is_refused(admin, clerk, api, app):
    p = a_pass(api)
    data = {"reason": "fraud", "confirmed": "yes"}
    assert admin.post(f"/console/admin/passes/{p['id']}/revoke", data, csrf=False).status_code == 400
    assert clerk.post(f"/console/admin/passes/{p['id']}/revoke", data).status_code == 403
    assert status_of(api, p["id"]) == "active"
    assert audit_entries(app, "pass.revoke") == []


def test_restore_a_pass_revoked_by_mistake(admin, api, app):
    p = a_pass(api)
    api.ok("POST", f"/api/passes/{p['id']}/revoke",
           json={"reason": "wrong rider", "code": "mistake"})
    assert status_of(api, p["id"]) == "revoked"
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    client.set(redis_keys.DENYLIST, "stale")  # what the restore must publish over
    client.close()
    missing = admin.post(f"/console/admin/passes/{p['id']}/restore", {"why": ""})
    assert missing.status_code == 400 and "say why the pass is restored" in missing.text
    asked = admin.post(f"/console/admin/passes/{p['id']}/restore", {"why": "revoked the wrong pass"})
    assert asked.status_code == 200 and "Restore pass" in asked.text
    assert status_of(api, p["id"]) == "revoked"
    done = admin.post(f"/console/admin/passes/{p['id']}/restore",
                      {"why": "revoked the wrong pass", "confirmed": "yes"})
    assert done.status_code == 303
    assert status_of(api, p["id"]) == "active"
    assert denylisted(app).startswith("{") and p["id"] not in denylisted(app)
    [entry] = audit_entries(app, "pass.restore")
    assert entry.target == p["id"] and "revoked the wrong pass" in entry.reason
    assert "wrong rider" in entry.reason
    again = admin.post(f"/console/admin/passes/{p['id']}/restore",
                       {"why": "twice", "confirmed": "yes"})
    assert again.status_code == 409 and "is not revoked" in again.text


def test_restore_refuses_a_refunded_pass(admin, api, app):
    order_id, pass_id = sold(api, app)
    with db.session(app.config["DATABASE_URL"]) as s:
        sales.refund(s, "thu-ngan", order_id, "rider changed plans", now=clock.now(),
                     redis_url=app.config["REDIS_URL"])
    assert status_of(api, pass_id) == "revoked"
    refused = admin.post(f"/console/admin/passes/{pass_id}/restore",
                         {"why": "mistake", "confirmed": "yes"})
    assert refused.status_code == 409 and "only a pass revoked by mistake" in refused.text
    assert 'value="mistake"' in refused.text
    assert status_of(api, pass_id) == "revoked"
    assert audit_entries(app, "pass.restore") == []
