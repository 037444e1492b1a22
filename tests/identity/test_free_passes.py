"""Free passes and reduced fares: granted on the date of birth, or applied for with evidence
and decided by an approver with a reason the rider sees; validity and renewal; lost phones."""

import base64
import datetime as dt

import pytest
import sqlalchemy as sa

from issuer.sales import applications
from issuer.platform.errors import Conflict
from issuer.platform.models import Application, AuditEntry, Pass
from shared import clock, keys

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def born_years_ago(years: int) -> str:
    today = dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date()
    return today.replace(year=today.year - years, day=1).isoformat()


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def approver(staff):
    return staff.token("duyet", "approver")


class TestByAge:
    def test_elderly_rider_is_granted_a_free_pass(self, api):
        token = api.account(birth_date=born_years_ago(70))["rider_token"]
        p = api.ok("POST", "/api/free-passes", token=token, json={"category": "elderly"})
        assert p["product"] == "free" and p["category"] == "elderly"
        months = (dt.datetime.fromtimestamp(p["valid_until"], clock.HANOI).year * 12
                  + dt.datetime.fromtimestamp(p["valid_until"], clock.HANOI).month
                  - dt.datetime.fromtimestamp(p["valid_from"], clock.HANOI).year * 12
                  - dt.datetime.fromtimestamp(p["valid_from"], clock.HANOI).month)
        assert months == 12

    @pytest.mark.parametrize(("age", "category", "message"), [
        (40, "elderly", "for ages 60 and over"),
        (8, "child", "for ages up to 5"),
        (70, "disability", "needs evidence"),
        (70, "student", "a free fare category must be one of"),
        (70, "nobody", "a free fare category must be one of"),
    ])
    def test_refused_and_nothing_granted(self, api, session, age, category, message):
        token = api.account(birth_date=born_years_ago(age))["rider_token"]
        response = api.call("POST", "/api/free-passes", token=token, json={"category": category})
        assert response.status_code == 400 and message in response.get_json()["error"]
        assert count(session, Pass) == 0

    def test_renewal_only_in_the_last_month(self, api, session):
        account = api.account(birth_date=born_years_ago(70))
        first = api.ok("POST", "/api/free-passes", token=account["rider_token"],
                       json={"category": "elderly"})
        again = api.call("POST", "/api/free-passes", token=account["rider_token"],
                         json={"category": "elderly"})
        assert again.status_code == 409 and "renew it in its last month" in again.get_json()["error"]
        late = first["valid_until"] - 10 * 24 * 3600
        renewed = applications.grant_free_pass(session, account["id"], "elderly", now=late)
        assert renewed.valid_from == first["valid_until"]


class TestApplications:
    def test_apply_approve_grants_the_pass(self, api, approver, session):
        token = api.account()["rider_token"]
        applied = api.ok("POST", "/api/applications", token=token, json={
            "category": "disability", "evidence_note": "Giấy xác nhận khuyết tật số 123",
            "evidence": base64.b64encode(PNG).decode(), "evidence_type": "image/png"})
        assert applied["status"] == "pending" and applied["has_evidence"] is True
        waiting = api.ok("GET", "/api/applications", token=approver)["applications"]
        assert [a["id"] for a in waiting] == [applied["id"]]
        file = api.call("GET", f"/api/applications/{applied['id']}/evidence", token=approver)
        assert file.data == PNG and "sandbox" in file.headers["Content-Security-Policy"]
        done = api.ok("POST", f"/api/applications/{applied['id']}/approve", token=approver,
                      json={})
        assert done["status"] == "approved" and done["decided_by"] == "duyet"
        [p] = api.ok("GET", "/api/me/passes", token=token)["passes"]
        assert p["id"] == done["pass_id"] and p["category"] == "disability"
        entry = session.scalars(sa.select(AuditEntry)
                                .where(AuditEntry.action == "application.approve")).one()
        assert entry.target == applied["id"] and entry.actor == "duyet"

    def test_reject_needs_a_reason_the_rider_sees(self, api, approver, session):
        token = api.account()["rider_token"]
        applied = api.ok("POST", "/api/applications", token=token,
                         json={"category": "merit", "evidence_note": "Quyết định số 9"})
        no_reason = api.call("POST", f"/api/applications/{applied['id']}/reject", token=approver,
                             json={})
        assert no_reason.status_code == 400
        done = api.ok("POST", f"/api/applications/{applied['id']}/reject", token=approver,
                      json={"reason": "Quyết định không đọc được; xin gửi bản rõ hơn"})
        assert done["status"] == "rejected"
        [mine] = api.ok("GET", "/api/me/applications", token=token)["applications"]
        assert mine["decision_reason"] == "Quyết định không đọc được; xin gửi bản rõ hơn"
        assert count(session, Pass) == 0
        twice = api.call("POST", f"/api/applications/{applied['id']}/approve", token=approver,
                         json={})
        assert twice.status_code == 409 and count(session, Pass) == 0
        reject_actions = session.scalars(sa.select(AuditEntry.reason)
                                         .where(AuditEntry.action == "application.reject")).all()
        assert reject_actions == ["Quyết định không đọc được; xin gửi bản rõ hơn"]

    @pytest.mark.parametrize(("body", "message"), [
        ({"category": "elderly", "evidence_note": "x"}, "follows from the date of birth"),
        ({"category": "disability", "evidence_note": " "}, "say what the evidence is"),
        ({"category": "disability", "evidence_note": "x", "evidence": "not base64!"}, "base64"),
        ({"category": "disability", "evidence_note": "x",
          "evidence": base64.b64encode(b"<html>").decode(), "evidence_type": "image/png"},
         "is not a image/png file"),
        ({"category": "disability", "evidence_note": "x",
          "evidence": base64.b64encode(PNG).decode(), "evidence_type": "text/html"},
         "evidence must be one of"),
    ])
    def test_bad_applications_are_400(self, api, session, body, message):
        token = api.account()["rider_token"]
        response = api.call("POST", "/api/applications", token=token, json=body)
        assert response.status_code == 400 and message in response.get_json()["error"]
        assert count(session, Application) == 0

    def test_one_open_application_per_category(self, api):
        token = api.account()["rider_token"]
        body = {"category": "merit", "evidence_note": "Quyết định số 9"}
        api.ok("POST", "/api/applications", token=token, json=body)
        assert api.call("POST", "/api/applications", token=token, json=body).status_code == 409

    @pytest.mark.parametrize("role", ["clerk", "analyst"])
    def test_only_approvers_decide(self, api, staff, session, role):
        token = api.account()["rider_token"]
        other = api.account()["rider_token"]
        applied = api.ok("POST", "/api/applications", token=token,
                         json={"category": "merit", "evidence_note": "Quyết định số 9"})
        operator = staff.token(f"op-{role}", role)
        for who in (operator, token, other):
            response = api.call("POST", f"/api/applications/{applied['id']}/approve",
                                token=who, json={})
            assert response.status_code == 403
        assert api.call("GET", f"/api/applications/{applied['id']}",
                        token=other).status_code == 403
        assert api.call("GET", "/api/applications", token=operator).status_code == 403
        assert count(session, Pass) == 0

    def test_concurrent_decision_is_refused(self, api, session):
        token = api.account()["rider_token"]
        applied = api.ok("POST", "/api/applications", token=token,
                         json={"category": "merit", "evidence_note": "Quyết định số 9"})
        applications.decide(session, applied["id"], approve=False, reason="no",
                            decided_by="a", now=clock.now())
        with pytest.raises(Conflict):
            applications.decide(session, applied["id"], approve=True, reason=None,
                                decided_by="b", now=clock.now())


class TestDevices:
    def test_devices_listed_and_a_lost_phone_reported(self, api):
        token, p = api.rider_pass()
        old, new = keys.new_device_key(), keys.new_device_key()
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
               json={"public_key": keys.device_public_compressed(old), "label": "iPhone cũ"})
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
               json={"public_key": keys.device_public_compressed(new), "label": "Galaxy mới"})
        history = api.ok("GET", f"/api/passes/{p['id']}/devices", token=token)["devices"]
        assert [(d["label"], d["active"]) for d in history] == [("Galaxy mới", True),
                                                                 ("iPhone cũ", False)]
        assert history[0]["activated_at"] and history[1]["retired_at"]
        lost = api.ok("POST", f"/api/passes/{p['id']}/lost-device", token=token,
                      json={"reason": "mất điện thoại trên xe 32"})
        assert lost["active"] is False and lost["retire_reason"] == "mất điện thoại trên xe 32"
        assert lost["published"] is True
        deny = api.ok("GET", "/denylist.json", token=None)
        [entry] = [e for e in deny["entries"] if e["pid"] == p["id"]]
        assert "device" not in entry  # refused on every device until activated again
        again = api.call("POST", f"/api/passes/{p['id']}/lost-device", token=token,
                         json={"reason": "again"})
        assert again.status_code == 409
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
               json={"public_key": keys.device_public_compressed(keys.new_device_key())})
        deny = api.ok("GET", "/denylist.json", token=None)
        [entry] = [e for e in deny["entries"] if e["pid"] == p["id"]]
        assert entry["device"]  # only the newest phone is accepted

    def test_lost_phone_needs_a_reason_and_the_owner(self, api):
        token, p = api.rider_pass()
        api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token)
        other = api.account()["rider_token"]
        assert api.call("POST", f"/api/passes/{p['id']}/lost-device", token=other,
                        json={"reason": "x"}).status_code == 403
        assert api.call("POST", f"/api/passes/{p['id']}/lost-device", token=token,
                        json={"reason": ""}).status_code == 400
        assert api.call("POST", f"/api/passes/{p['id']}/lost-device",
                        json={"reason": "x"}).status_code == 403  # operators revoke instead
        assert api.ok("GET", f"/api/passes/{p['id']}", token=token)["device"] is not None
