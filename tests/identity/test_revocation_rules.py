"""Fair rules after a revocation, through the doors staff and riders use (the JSON API and
the console's forms): a pass revoked for fraud keeps its account from a new free pass until a
clerk decides; a pass revoked by mistake can be restored at the counter, or bought again;
a pass revoked for any other reason is not restored."""

from __future__ import annotations

import pytest
import redis
import sqlalchemy as sa

from issuer.platform.models import AuditEntry, Pass
from shared import redis_keys
from tests.admin.test_admin_passes import denylisted
from tests.identity.conftest import page_csrf
from tests.identity.test_free_passes import born_years_ago
from tests.identity.test_orders import order


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
                    json={"category": "elderly"}).status_code == 403  # still held

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
    made = order(api, token).get_json()
    paid = api.ok("POST", f"/api/orders/{made['id']}/pay", token=clerk,
                  json={"amount_vnd": made["price_vnd"]})
    assert order(api, token).status_code == 409  # the month is held by a valid pass
    revoke(api, admin, paid["pass_id"], "mistake", "wrong rider's pass")
    again = order(api, token)
    assert again.status_code == 201, again.get_json()


def test_a_pass_revoked_by_mistake_is_restored_and_leaves_the_denylist(api, admin, staff,
                                                                       session, app):
    _, p = api.rider_pass()
    revoke(api, admin, p["id"], "mistake")
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    client.set(redis_keys.DENYLIST, "stale")  # what the restore must publish over
    client.close()
    boss = staff.browser("quan-tri-2", "administrator")
    page = f"/console/counter/passes/{p['id']}"
    assert 'id="restore"' in boss.get(page).text
    done = boss.post(f"{page}/restore", data={"csrf_token": page_csrf(boss, page),
                                              "note": "wrong pass chosen"})
    assert done.status_code == 303
    session.expire_all()
    restored = session.get(Pass, p["id"])
    assert (restored.status, restored.revoked_at, restored.revoke_code) == ("active", None, None)
    assert denylisted(app).startswith("{") and p["id"] not in denylisted(app)
    assert session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "pass.restore")).one().reason.startswith("wrong pass chosen")


@pytest.mark.parametrize("code", ["fraud", "shared_pass"])
def test_only_a_mistake_is_restored(api, admin, staff, session, code):
    _, p = api.rider_pass()
    revoke(api, admin, p["id"], code)
    boss = staff.browser("quan-tri-2", "administrator")
    page = f"/console/counter/passes/{p['id']}"
    assert 'id="restore"' not in boss.get(page).text
    refused = boss.post(f"{page}/restore", data={"csrf_token": page_csrf(boss, page),
                                                 "note": "asked"})
    assert refused.status_code == 409
    session.expire_all()
    assert session.get(Pass, p["id"]).status == "revoked"
    assert count(session, AuditEntry, AuditEntry.action == "pass.restore") == 0
