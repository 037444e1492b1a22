"""Revoking a pass from a cloned-pass alert in the console: a reason from the list, then a
confirmation; the reason kept with the pass and its audit entry; refused, nothing changes.
Through the console's forms (Flask test client)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backoffice.models import CloneAlert
from issuer.platform.models import AuditEntry, Pass
from shared import clock
from tests.identity.conftest import csrf_from


def form(client, path: str, page: str, **data):
    """POST a console form with the CSRF token of ``page``."""
    return client.post(path, data={"csrf_token": csrf_from(client.get(page).text), **data})


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
