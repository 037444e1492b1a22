"""The console after issue 19: amounts as clerks type them, revoking from an alert with a reason
from the list and a confirmation, and the rules after a revocation (fraud holds free passes
until a clerk allows them; a pass revoked by mistake is restored or bought again). Through
the real doors: the console's forms (Flask test client) and the JSON API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backoffice.models import CloneAlert
from issuer.passes import actions as pass_actions
from issuer.platform.models import AuditEntry, Order, Pass
from shared import clock
from tests.identity.conftest import csrf_from
from tests.identity.test_free_passes import born_years_ago
from tests.identity.test_orders import order


def form(client, path: str, page: str, **data):
    """POST a console form with the CSRF token of ``page``."""
    return client.post(path, data={"csrf_token": csrf_from(client.get(page).text), **data})


# --- amounts ------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["200.000", "200,000", "200000", "200.000 ₫", "200k",
                                   "200 000", "200.000đ", "200000 VND"])
def test_the_counter_takes_the_amount_as_it_is_typed(api, staff, session, typed):
    token = api.account()["rider_token"]
    o = order(api, token).get_json()
    clerk = staff.browser("thu-ngan", "clerk")
    page = f"/console/counter/{o['id']}"
    done = form(clerk, f"{page}/pay", page, amount_vnd=typed)
    assert done.status_code == 302 and done.location.endswith(f"/{o['id']}/receipt")
    assert session.get(Order, o["id"]).status == "paid"


@pytest.mark.parametrize("typed", ["200.5", "2,00", "1.5k", "200.000,00", "abc", "", "0",
                                   "20.0000", "199.999"])
def test_an_amount_not_read_for_certain_is_refused_and_kept(api, staff, session, typed):
    token = api.account()["rider_token"]
    o = order(api, token).get_json()
    clerk = staff.browser("thu-ngan", "clerk")
    page = f"/console/counter/{o['id']}"
    refused = form(clerk, f"{page}/pay", page, amount_vnd=typed)
    assert refused.status_code in (400, 409)
    assert 'class="flash error"' in refused.text
    assert f'value="{typed}"' in refused.text or not typed  # what was typed is kept
    session.expire_all()
    assert session.get(Order, o["id"]).status == "pending"


# --- revoking from an alert ---------------------------------------------------------------

@pytest.fixture
def alert(api, session):
    _, p = api.rider_pass()
    now_ms = int(clock.now() * 1000)
    row = CloneAlert(pass_id=p["id"], first_trip_id="T1", second_trip_id="T2",
                     first_vehicle="29B-100.01", second_vehicle="29B-777.77",
                     first_at_ms=now_ms - 60_000, second_at_ms=now_ms, created_ms=now_ms)
    session.add(row)
    session.commit()
    return row.id, p["id"]


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "bored"},
                                  {"reason": "refund"}, {"reason": "other"},
                                  {"reason": "fraud", "note": "x" * 401}])
def test_a_revocation_without_a_listed_reason_is_refused_and_changes_nothing(
        api, staff, session, alert, data):
    alert_id, pass_id = alert
    admin = staff.browser("quan-tri", "administrator")
    page = f"/console/ridership/alerts/{alert_id}/revoke"
    refused = form(admin, page, page, confirmed="yes", **data)
    assert refused.status_code == 400 and 'class="flash error"' in refused.text
    session.expire_all()
    assert session.get(Pass, pass_id).status == "active"
    assert session.get(CloneAlert, alert_id).status == "open"


def test_revoking_takes_a_confirmation_then_keeps_the_reason(api, staff, session, alert):
    alert_id, pass_id = alert
    admin = staff.browser("quan-tri", "administrator")
    page = f"/console/ridership/alerts/{alert_id}/revoke"
    asked = form(admin, page, page, reason="shared_pass", note="seen twice")
    assert asked.status_code == 200 and 'id="confirm"' in asked.text
    session.expire_all()
    assert session.get(Pass, pass_id).status == "active"  # nothing yet
    done = form(admin, page, page, reason="shared_pass", note="seen twice", confirmed="yes")
    assert done.status_code == 302
    session.expire_all()
    p = session.get(Pass, pass_id)
    assert (p.status, p.revoke_code) == ("revoked", "shared_pass")
    assert "seen twice" in p.revoke_reason
    entry = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "alert.revoke")).one()
    assert "shared_pass" in entry.reason and "seen twice" in entry.reason


def test_an_analyst_may_not_revoke(staff, session, alert):
    alert_id, pass_id = alert
    analyst = staff.browser("phan-tich", "analyst")
    page = "/console/ridership/alerts"
    refused = form(analyst, f"/console/ridership/alerts/{alert_id}/revoke", page,
                   reason="fraud", confirmed="yes")
    assert refused.status_code == 403
    assert session.get(Pass, pass_id).status == "active"


# --- after a revocation -------------------------------------------------------------------

def test_fraud_holds_free_passes_until_a_clerk_allows_them_again(api, staff, session,
                                                                 redis_url):
    account = api.account(birth_date=born_years_ago(70))
    token = account["rider_token"]
    first = api.ok("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    pass_actions.revoke_with_reason(session, "quan-tri", first["id"], "fraud", "false papers",
                                    now=clock.now(), redis_url=redis_url)
    held = api.call("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    assert held.status_code == 403 and "clerk" in held.get_json()["error"]

    clerk = staff.browser("thu-ngan", "clerk")
    listed = clerk.get("/console/approvals/held")
    assert listed.status_code == 200 and account["id"] in listed.text
    no_note = form(clerk, f"/console/approvals/held/{account['id']}", "/console/approvals/held")
    assert no_note.status_code == 303
    assert api.call("POST", "/api/free-passes", token=token,
                    json={"category": "elderly"}).status_code == 403  # still held
    allowed = form(clerk, f"/console/approvals/held/{account['id']}", "/console/approvals/held",
                   note="papers checked at the counter")
    assert allowed.status_code == 303
    entry = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "account.allow_free_pass")).one()
    assert entry.actor == "thu-ngan" and entry.reason == "papers checked at the counter"
    again = api.call("POST", "/api/free-passes", token=token, json={"category": "elderly"})
    assert again.status_code == 201


def test_a_pass_revoked_by_mistake_can_be_bought_again_for_its_month(api, staff, session,
                                                                     redis_url):
    token = api.account()["rider_token"]
    clerk = staff.token("thu-ngan", "clerk")
    o = order(api, token).get_json()
    paid = api.ok("POST", f"/api/orders/{o['id']}/pay", token=clerk, json={"amount_vnd": 200_000})
    assert order(api, token).status_code == 409  # the month is held by a valid pass
    pass_actions.revoke_with_reason(session, "quan-tri", paid["pass_id"], "mistake", None,
                                    now=clock.now(), redis_url=redis_url)
    assert order(api, token).status_code == 201


def test_a_pass_revoked_by_mistake_is_restored_and_leaves_the_denylist(api, staff, session,
                                                                       redis_url):
    _, p = api.rider_pass()
    pass_actions.revoke_with_reason(session, "quan-tri", p["id"], "mistake", None,
                                    now=clock.now(), redis_url=redis_url)
    admin = staff.browser("quan-tri", "administrator")
    page = f"/console/counter/passes/{p['id']}"
    assert 'id="restore"' in admin.get(page).text
    done = form(admin, f"{page}/restore", page, note="wrong pass chosen")
    assert done.status_code == 303
    session.expire_all()
    restored = session.get(Pass, p["id"])
    assert (restored.status, restored.revoked_at, restored.revoke_code) == ("active", None, None)
    assert session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "pass.restore")).one().reason == "wrong pass chosen"


def test_only_a_mistake_is_restored(api, staff, session, redis_url):
    _, p = api.rider_pass()
    pass_actions.revoke_with_reason(session, "quan-tri", p["id"], "fraud", None,
                                    now=clock.now(), redis_url=redis_url)
    admin = staff.browser("quan-tri", "administrator")
    page = f"/console/counter/passes/{p['id']}"
    assert 'id="restore"' not in admin.get(page).text
    refused = form(admin, f"{page}/restore", page)
    assert refused.status_code == 409
    session.expire_all()
    assert session.get(Pass, p["id"]).status == "revoked"
