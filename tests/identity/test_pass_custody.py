"""Who may act on a rider's pass: its phone, its credential and its QR are the rider's alone.
Operators of every role may see a pass, for support, but binding a device, taking a
credential or the custodial QR is refused to them on the rider's API; a clerk acting for a
rider in front of her does it at the counter, seeing who she is, with a reason, audited."""

from __future__ import annotations

import base64
import io
import re

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from issuer.identity import operators
from issuer.platform.models import AuditEntry, DeviceBinding
from shared import clock, keys, ticket
from tests.identity.conftest import csrf_from

BOOTSTRAP = "bootstrap"  # the token `vexe init` writes: an administrator


def acting(pass_id: str) -> list[tuple[str, str, dict | None]]:
    """What only the pass's rider may do on it through the API."""
    thief = keys.device_public_compressed(keys.new_device_key())
    return [("POST", f"/api/passes/{pass_id}/device", {"public_key": thief}),
            ("POST", f"/api/passes/{pass_id}/credential", {}),
            ("POST", f"/api/passes/{pass_id}/custodial", {}),
            ("GET", f"/api/passes/{pass_id}/qr", None),
            ("GET", f"/api/passes/{pass_id}/qr?format=png", None),
            ("POST", f"/api/passes/{pass_id}/lost-device", {"reason": "stolen"})]


def operator_token(api, staff, role: str) -> str:
    return api.operator_token if role == BOOTSTRAP else staff.token(f"op-{role}", role)


def audit_of(session, pass_id: str) -> list[tuple[str, str, str | None]]:
    session.expire_all()
    return [(e.actor, e.action, e.reason) for e in session.scalars(
        sa.select(AuditEntry).where(AuditEntry.target == pass_id).order_by(AuditEntry.id))]


@pytest.fixture
def on_phone(api, device):
    """A rider whose pass is on her own phone: (rider token, pass)."""
    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    return token, p


class TestOperatorsDoNotActAsTheRider:
    @pytest.mark.parametrize("role", [*operators.ROLES, BOOTSTRAP])
    def test_no_operator_binds_refreshes_or_takes_the_qr(self, api, staff, session, device,
                                                         on_phone, role):
        """The attack of issue 16.1: an analyst bound her own key to a rider's pass and rode
        on it, and the rider's phone was refused. Every role is refused every step."""
        token, p = on_phone
        as_operator = operator_token(api, staff, role)
        answers = [(method, path, api.call(method, path, token=as_operator, json=body)
                    .status_code) for method, path, body in acting(p["id"])]
        assert answers == [(method, path, 403) for method, path, _ in acting(p["id"])]
        # The rider's phone still holds the pass and still gets credentials.
        [binding] = api.ok("GET", f"/api/passes/{p['id']}/devices", token=token)["devices"]
        assert binding["active"] and binding["device_key"] == keys.device_public_compressed(device)
        fresh = api.ok("POST", f"/api/passes/{p['id']}/credential", token=token)
        assert fresh["device_key"] == binding["device_key"]

    def test_no_operator_binds_a_pass_that_is_on_no_device(self, api, staff, session):
        token, p = api.rider_pass()
        analyst = operator_token(api, staff, operators.ANALYST)
        for method, path, body in acting(p["id"])[:4]:
            assert api.call(method, path, token=analyst, json=body).status_code == 403
        session.expire_all()
        assert session.scalars(sa.select(DeviceBinding)).all() == []
        assert api.ok("GET", f"/api/passes/{p['id']}", token=token)["device"] is None

    @pytest.mark.parametrize("role", [*operators.ROLES, BOOTSTRAP])
    def test_operators_still_see_the_pass_for_support(self, api, staff, on_phone, role):
        _, p = on_phone
        as_operator = operator_token(api, staff, role)
        shown = api.ok("GET", f"/api/passes/{p['id']}", token=as_operator)
        assert shown["status"] == "active" and shown["device"]["custodial"] is False
        assert len(api.ok("GET", f"/api/passes/{p['id']}/devices",
                          token=as_operator)["devices"]) == 1

    def test_the_rider_keeps_her_own_custodial_qr(self, api):
        token, p = api.rider_pass()
        api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token)
        text = api.call("GET", f"/api/passes/{p['id']}/qr", token=token).text
        assert ticket.parse_qr(text).proof_time <= clock.now()

    def test_another_rider_is_refused(self, api, on_phone):
        _, p = on_phone
        other, _ = api.rider_pass()
        for method, path, body in acting(p["id"]):
            assert api.call(method, path, token=other, json=body).status_code == 403


def qr_text_of(html: str) -> str:
    """The QR the page shows, read back from its image as a scanner would."""
    found = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert found, "no QR image on the page"
    image = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
    # zxing may find the one QR twice (two finder-pattern groupings): one text, one QR.
    [text] = {barcode.text for barcode in zxingcpp.read_barcodes(image)}
    return text


class TestAtTheCounter:
    def test_a_clerk_makes_the_pass_custodial_for_the_rider_with_a_reason(self, api, staff,
                                                                          session):
        account = api.account("Lê Văn Cường", "1948-01-15")
        p = api.issue(account["id"], "free", category="elderly")
        clerk = staff.browser("quay-1", operators.CLERK)
        page = clerk.get(f"/console/counter/passes/{p['id']}")
        assert page.status_code == 200
        assert "Lê Văn Cường" in page.text and "15/01/1948" in page.text
        assert page.headers["Cache-Control"] == "no-store"
        url = f"/console/counter/passes/{p['id']}/custodial-qr"
        csrf = csrf_from(page.text)

        clerk.set_cookie("vexe_lang", "en")  # the refusals read in English
        refused = clerk.post(url, data={"csrf_token": csrf, "reason": "  "})
        assert refused.status_code == 400 and "needs a reason" in refused.text
        assert api.ok("GET", f"/api/passes/{p['id']}")["device"] is None
        assert audit_of(session, p["id"])[1:] == []  # only the issue

        shown = clerk.post(url, data={"csrf_token": csrf, "reason": "elderly, no smartphone"})
        assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
        parsed, claims = verify(qr_text_of(shown.text), api.jwks())
        assert claims.pid == p["id"]
        assert api.ok("GET", f"/api/passes/{p['id']}")["device"]["custodial"] is True
        again = clerk.post(url, data={"csrf_token": csrf, "reason": "printed again"})
        assert verify(qr_text_of(again.text), api.jwks())[1].pid == p["id"]
        assert audit_of(session, p["id"])[1:] == [
            ("quay-1", "pass.custodial", "elderly, no smartphone"),
            ("quay-1", "pass.custodial_qr", "printed again")]

    def test_a_pass_on_the_riders_phone_is_not_moved_by_the_counter(self, api, staff, session,
                                                                   device, on_phone):
        _, p = on_phone
        clerk = staff.browser("quay-2", operators.CLERK)
        clerk.set_cookie("vexe_lang", "en")  # the refusal read in English
        csrf = csrf_from(clerk.get(f"/console/counter/passes/{p['id']}").text)
        moved = clerk.post(f"/console/counter/passes/{p['id']}/custodial-qr",
                           data={"csrf_token": csrf, "reason": "rider asked"})
        assert moved.status_code == 409 and "held by a phone" in moved.text
        shown = api.ok("GET", f"/api/passes/{p['id']}")["device"]
        assert shown["key"] == keys.device_public_compressed(device)
        assert [a for _, a, _ in audit_of(session, p["id"])] == ["pass.issue"]

    @pytest.mark.parametrize("role", [operators.ANALYST, operators.APPROVER])
    def test_only_clerks_act_at_the_counter(self, api, staff, role):
        _, p = api.rider_pass()
        other = staff.browser(f"not-clerk-{role}", role)
        csrf = csrf_from(other.get("/console/").text)
        assert other.get(f"/console/counter/passes/{p['id']}").status_code == 403
        assert other.post(f"/console/counter/passes/{p['id']}/custodial-qr",
                          data={"csrf_token": csrf, "reason": "x"}).status_code == 403
        assert api.ok("GET", f"/api/passes/{p['id']}")["device"] is None


def verify(text: str, jwks: dict) -> tuple[ticket.ParsedQR, ticket.Claims]:
    parsed = ticket.parse_qr(text)
    claims = ticket.verify_credential(parsed, keys.TrustList.from_jwks(jwks), clock.now())
    ticket.verify_proof(parsed, claims)
    return parsed, claims
