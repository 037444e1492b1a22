"""The validator's decision, reached through the QR text: every reason code, in its order.

All times are fixed integers; nothing sleeps or reads the clock. The month of the tests is
November 2026 in Hanoi: 17:00 UTC on 31 October to 17:00 UTC on 30 November.
"""

from __future__ import annotations

import json

import pytest

from shared import b64, clock, keys, reasons, ticket
from shared.denylist import DenyEntry, Denylist
from validator.check import DEFAULT_PASSBACK, check

NOV = clock.month_bounds(2026, 11)
DEC = clock.month_bounds(2026, 12)
NOW = 1795136400  # 2026-11-20 01:00:00 UTC, 08:00 in Hanoi
ROUTE = "32"
VEHICLE = "29B-123.45"
PASS_ID = "7K3M9QX2TB"
FRESH = ticket.DEFAULT_FRESHNESS


class MemoryHistory:
    """The validator.check.History protocol over a list of accepted scans."""

    def __init__(self):
        self.accepted: list[tuple[str, int, str, int]] = []  # (pid, proof_at, vehicle, at_ms)

    def proof_used(self, pass_id: str, proof_at: int) -> bool:
        return any(p == pass_id and t == proof_at for p, t, _, _ in self.accepted)

    def accepted_since(self, pass_id: str, vehicle: str, since_ms: int) -> bool:
        return any(p == pass_id and v == vehicle and at >= since_ms
                   for p, _, v, at in self.accepted)

    def record(self, decision, vehicle: str, now: float) -> None:
        if decision.accepted:
            self.accepted.append((decision.claims.pid, decision.proof_at, vehicle, int(now * 1000)))


class Issuer:
    """An issuer key, the trust list that names it, and helpers to mint (and forge) QRs."""

    def __init__(self, not_before: int | None = None, not_after: int | None = None):
        self.key = keys.new_signing_key()
        self.kid = keys.key_id(self.key)
        self.trusted = keys.TrustedKey(self.kid, self.key.public_key(), not_before, not_after)

    def trust(self, *others: "Issuer") -> keys.TrustList:
        return keys.TrustList([self.trusted, *(other.trusted for other in others)])

    def credential(self, device, *, product="S", routes=(ROUTE,), month=NOV, now=NOW,
                   pass_id=PASS_ID, jti="c1", category=None,
                   lifetime=ticket.DEFAULT_CREDENTIAL_LIFETIME) -> str:
        return ticket.mint_credential(
            self.key, jti=jti, pass_id=pass_id, product=product, routes=list(routes),
            valid_from=month[0], valid_until=month[1],
            device_key=keys.device_public_compressed(device), now=now, lifetime=lifetime,
            category=category)

    def qr(self, device, at=NOW, **kwargs) -> str:
        return ticket.encode_qr(self.credential(device, **kwargs), device, at)

    def forge(self, header: dict, payload: dict, device, at=NOW, signature: bytes | None = None,
              proof: bytes | None = None) -> str:
        """A QR from arbitrary header and payload, signed by this issuer unless told otherwise."""
        header_json = json.dumps(header, separators=(",", ":")).encode()
        payload_json = json.dumps(payload, separators=(",", ":")).encode()
        if signature is None:
            signing_input = f"{b64.encode(header_json)}.{b64.encode(payload_json)}".encode()
            signature = self.key.sign(signing_input)
        if proof is None:
            jti = payload.get("jti") if isinstance(payload.get("jti"), str) else ""
            proof = keys.sign_raw(device, ticket.proof_message(at, jti))
        return ticket.assemble_qr(header_json, payload_json, signature, at, proof)


@pytest.fixture(scope="module")
def issuer():
    return Issuer()


@pytest.fixture(scope="module")
def device():
    return keys.new_device_key()


def decide(text, trust, *, now=NOW, route=ROUTE, vehicle=VEHICLE, denylist=None, history=None,
           **kwargs):
    return check(text, trust=trust, denylist=denylist or Denylist.empty(), route=route,
                 vehicle=vehicle, now=now, history=history, **kwargs)


class TestAccept:
    @pytest.mark.parametrize("product, routes, category, route", [
        ("S", ("32",), None, "32"),
        ("M", ("*",), None, "E10"),
        ("F", ("*",), "elderly", "01"),
    ])
    def test_each_product_is_accepted(self, issuer, device, product, routes, category, route):
        """A fresh QR of each product is a ride, and the decision names the pass."""
        text = issuer.qr(device, product=product, routes=routes, category=category)
        decision = decide(text, issuer.trust(), route=route)
        assert decision.reason == "ok" and decision.accepted
        assert decision.claims.product == product and decision.claims.category == category
        assert decision.proof_at == NOW
        shown = decision.to_dict()
        assert shown["decision"] == "accept"
        assert shown["message"] == {"vi": "Hợp lệ. Mời lên xe", "en": "Valid. Welcome aboard"}
        assert shown["pass"]["pass_id"] == PASS_ID
        assert shown["pass"]["product"] == ticket.PRODUCT_NAMES[product]

    def test_single_route_pass_with_several_routes(self, issuer, device):
        """A single-route credential may name more than one route; each of them is covered."""
        text = issuer.qr(device, routes=("32", "E10"))
        assert decide(text, issuer.trust(), route="E10").accepted
        assert decide(text, issuer.trust(), route="33").reason == "wrong_route"


class TestEveryReason:
    """Each reason code, reached through a QR text and nothing else."""

    def test_malformed(self, issuer):
        decision = decide("VX1:NOT BASE45 AT ALL!", issuer.trust())
        assert decision.reason == "malformed" and decision.claims is None
        assert decision.to_dict()["decision"] == "refuse"

    def test_unsupported_version(self, issuer, device):
        text = issuer.qr(device).replace("VX1:", "VX2:", 1)
        assert decide(text, issuer.trust()).reason == "unsupported_version"

    def test_unknown_key(self, issuer, device):
        stranger = Issuer()
        assert decide(stranger.qr(device), issuer.trust()).reason == "unknown_key"

    def test_bad_signature(self, issuer, device):
        """A credential whose claims were changed after signing (route 33 for route 32)."""
        good = ticket.parse_qr(issuer.qr(device))
        payload = json.loads(good.payload_json)
        payload["rts"] = ["33"]
        text = issuer.forge(json.loads(good.header_json), payload, device,
                            signature=good.issuer_signature)
        assert decide(text, issuer.trust(), route="33").reason == "bad_signature"

    def test_bad_proof(self, issuer, device):
        """A copied credential shown with a proof from another phone's key."""
        credential = issuer.credential(device)
        text = ticket.encode_qr(credential, keys.new_device_key(), NOW)
        assert decide(text, issuer.trust()).reason == "bad_proof"

    def test_revoked(self, issuer, device):
        denylist = Denylist(NOW, {PASS_ID: DenyEntry(NOW - 60, NOW + 3 * 86400)})
        assert decide(issuer.qr(device), issuer.trust(), denylist=denylist).reason == "revoked"

    def test_device_replaced(self, issuer, device):
        """The pass moved to another phone: only the new phone's credentials ride."""
        new_phone = keys.new_device_key()
        denylist = Denylist(NOW, {PASS_ID: DenyEntry(NOW - 60, NOW + 3 * 86400,
                                                     keys.device_public_compressed(new_phone))})
        old = decide(issuer.qr(device), issuer.trust(), denylist=denylist)
        new = decide(issuer.qr(new_phone), issuer.trust(), denylist=denylist)
        assert (old.reason, new.reason) == ("device_replaced", "ok")

    def test_not_yet_valid(self, issuer, device):
        text = issuer.qr(device, now=NOW + 3600, at=NOW)
        assert decide(text, issuer.trust()).reason == "not_yet_valid"

    def test_expired(self, issuer, device):
        """The credential's 72 h are over in the middle of the month: the app must refresh."""
        later = NOW + ticket.DEFAULT_CREDENTIAL_LIFETIME
        text = issuer.qr(device, at=later)
        assert decide(text, issuer.trust(), now=later).reason == "expired"

    def test_outside_validity(self, issuer, device):
        """A December pass bought in November is not a ride in November."""
        text = issuer.qr(device, month=DEC)
        assert decide(text, issuer.trust()).reason == "outside_validity"

    def test_wrong_route(self, issuer, device):
        assert decide(issuer.qr(device), issuer.trust(), route="33").reason == "wrong_route"

    def test_stale_proof(self, issuer, device):
        """A screenshot shown again after the freshness window."""
        text = issuer.qr(device)
        assert decide(text, issuer.trust(), now=NOW + FRESH + 1).reason == "stale_proof"

    def test_replayed(self, issuer, device):
        history = MemoryHistory()
        text = issuer.qr(device)
        first = decide(text, issuer.trust(), history=history)
        history.record(first, VEHICLE, NOW)
        again = decide(text, issuer.trust(), now=NOW + 5, vehicle="29B-999.99", history=history)
        assert (first.reason, again.reason) == ("ok", "replayed")

    def test_passback(self, issuer, device):
        history = MemoryHistory()
        first = decide(issuer.qr(device), issuer.trust(), history=history)
        history.record(first, VEHICLE, NOW)
        fresh = issuer.qr(device, at=NOW + 30)
        again = decide(fresh, issuer.trust(), now=NOW + 35, history=history)
        assert (first.reason, again.reason) == ("ok", "passback")

    def test_every_code_has_a_message_in_both_languages(self):
        codes = {"ok", "malformed", "unsupported_version", "unknown_key", "bad_signature",
                 "bad_proof", "revoked", "not_yet_valid", "expired", "outside_validity",
                 "wrong_route", "stale_proof", "replayed", "passback", "device_replaced"}
        assert set(reasons.REASONS) == codes
        for code in codes:
            message = reasons.message(code)
            assert message["vi"] and message["en"] and message["vi"] != message["en"]


class TestOrder:
    """Signatures come before rules; among rules, the most useful message first."""

    def test_a_forged_proof_is_bad_proof_even_for_a_revoked_pass(self, issuer, device):
        text = ticket.encode_qr(issuer.credential(device), keys.new_device_key(), NOW)
        denylist = Denylist(NOW, {PASS_ID: DenyEntry(0, NOW + 86400)})
        assert decide(text, issuer.trust(), denylist=denylist).reason == "bad_proof"

    def test_revoked_comes_before_time_and_route(self, issuer, device):
        text = issuer.qr(device, month=DEC, at=NOW - 3600)
        denylist = Denylist(NOW, {PASS_ID: DenyEntry(0, NOW + 86400)})
        assert decide(text, issuer.trust(), denylist=denylist, route="33").reason == "revoked"

    def test_wrong_route_comes_before_stale_proof(self, issuer, device):
        text = issuer.qr(device, at=NOW - 3600)
        assert decide(text, issuer.trust(), route="33").reason == "wrong_route"

    def test_replayed_comes_before_passback(self, issuer, device):
        history = MemoryHistory()
        text = issuer.qr(device)
        history.record(decide(text, issuer.trust()), VEHICLE, NOW)
        assert decide(text, issuer.trust(), now=NOW + 1, history=history).reason == "replayed"


class TestTime:
    def test_credential_nbf_allows_the_freshness_window_of_skew(self, issuer, device):
        """An issuer clock ahead of the validator's by up to 45 s is tolerated, not more."""
        text = issuer.qr(device, now=NOW + FRESH, at=NOW)
        assert decide(text, issuer.trust()).accepted
        text = issuer.qr(device, now=NOW + FRESH + 1, at=NOW)
        assert decide(text, issuer.trust()).reason == "not_yet_valid"

    def test_credential_exp_is_exclusive(self, issuer, device):
        credential = issuer.credential(device)
        exp = NOW + ticket.DEFAULT_CREDENTIAL_LIFETIME
        assert decide(ticket.encode_qr(credential, device, exp - 1), issuer.trust(),
                      now=exp - 1).accepted
        assert decide(ticket.encode_qr(credential, device, exp), issuer.trust(),
                      now=exp).reason == "expired"

    def test_credential_never_outlives_its_pass(self, issuer, device):
        credential = issuer.credential(device, now=NOV[1] - 3600)
        claims = json.loads(b64.decode(credential.split(".")[1]))
        assert claims["exp"] == NOV[1] == claims["vu"]

    @pytest.mark.parametrize("offset, reason", [
        (-FRESH - 1, "stale_proof"), (-FRESH, "ok"), (0, "ok"), (FRESH, "ok"),
        (FRESH + 1, "stale_proof"),
    ])
    def test_proof_freshness_is_45_seconds_either_side(self, issuer, device, offset, reason):
        """A proof from the future (a phone clock ahead) is held to the same window."""
        credential = issuer.credential(device)
        text = ticket.encode_qr(credential, device, NOW + offset)
        assert decide(text, issuer.trust()).reason == reason

    def test_freshness_is_a_parameter(self, issuer, device):
        text = issuer.qr(device)
        assert decide(text, issuer.trust(), now=NOW + 100, freshness=120).accepted

    def test_a_proof_lives_one_rotation_plus_a_margin(self, issuer, device):
        """The phone rotates every 30 s, so a QR is always well inside the 45 s window."""
        assert ticket.DEFAULT_ROTATION < ticket.DEFAULT_FRESHNESS < 2 * ticket.DEFAULT_ROTATION


class TestMonthBoundary:
    """A November pass is void at 00:00 on 1 December Hanoi time: 17:00:00 UTC on 30 Nov."""

    LAST = NOV[1] - 1  # 2026-11-30 16:59:59 UTC, 23:59:59 in Hanoi

    def boundary_qr(self, issuer, device, month, at):
        # Bought (or refreshed) two days before the end of November.
        return issuer.qr(device, month=month, now=NOV[1] - 2 * 86400, at=at)

    def test_the_month_is_the_hanoi_calendar_month(self):
        assert NOV == (1793466000, 1796058000)
        assert clock.iso(NOV[1]) == "2026-12-01T00:00:00+07:00"
        assert clock.hanoi_month(self.LAST) == (2026, 11)
        assert clock.hanoi_month(NOV[1]) == (2026, 12)

    def test_november_pass_at_the_last_second_of_november(self, issuer, device):
        text = self.boundary_qr(issuer, device, NOV, self.LAST)
        assert decide(text, issuer.trust(), now=self.LAST).accepted

    def test_november_pass_at_midnight_hanoi_time(self, issuer, device):
        """Refused as outside its validity, not as an expired credential to refresh."""
        text = self.boundary_qr(issuer, device, NOV, NOV[1])
        decision = decide(text, issuer.trust(), now=NOV[1])
        assert decision.reason == "outside_validity"
        assert decision.to_dict()["message"]["en"] == "Pass not valid at this time"

    def test_december_pass_at_midnight_hanoi_time(self, issuer, device):
        text = self.boundary_qr(issuer, device, DEC, DEC[0])
        assert decide(text, issuer.trust(), now=DEC[0]).accepted

    def test_december_pass_at_the_last_second_of_november(self, issuer, device):
        text = self.boundary_qr(issuer, device, DEC, self.LAST)
        assert decide(text, issuer.trust(), now=self.LAST).reason == "outside_validity"


class TestKeyRotation:
    def test_old_key_passes_while_in_the_trust_list(self, device):
        old, new = Issuer(), Issuer()
        text = old.qr(device)
        assert decide(text, new.trust(old)).accepted
        assert decide(new.qr(device), new.trust(old)).accepted

    def test_old_key_refused_once_it_leaves_the_list(self, device):
        old, new = Issuer(), Issuer()
        assert decide(old.qr(device), new.trust()).reason == "unknown_key"

    def test_old_key_refused_once_its_not_after_has_passed(self, device):
        old = Issuer(not_after=NOW + 60)
        new = Issuer(not_before=NOW - 86400)
        assert decide(old.qr(device), new.trust(old)).accepted
        later = old.qr(device, at=NOW + 60)
        assert decide(later, new.trust(old), now=NOW + 60).reason == "unknown_key"

    def test_new_key_refused_before_its_not_before(self, device):
        new = Issuer(not_before=NOW + 3600)
        assert decide(new.qr(device), new.trust()).reason == "unknown_key"

    def test_rotation_through_the_published_jwks(self, device):
        """What validators read from Redis or disk is the JWKS text; rotation survives it."""
        old, new = Issuer(not_after=NOW + 60), Issuer()
        trust = keys.TrustList.from_jwks(new.trust(old).dumps())
        assert decide(old.qr(device), trust).accepted
        assert decide(old.qr(device, at=NOW + 61), trust, now=NOW + 61).reason == "unknown_key"
        assert decide(new.qr(device, at=NOW + 61), trust, now=NOW + 61).accepted


class TestHistory:
    def scan(self, issuer, history, text, now, vehicle=VEHICLE, **kwargs):
        decision = decide(text, issuer.trust(), now=now, vehicle=vehicle, history=history,
                          **kwargs)
        history.record(decision, vehicle, now)
        return decision.reason

    def test_passback_window(self, issuer, device):
        """The same pass on the same bus: refused for 10 minutes (both ends), then a ride."""
        history = MemoryHistory()
        assert self.scan(issuer, history, issuer.qr(device), NOW) == "ok"
        later = NOW + DEFAULT_PASSBACK
        assert self.scan(issuer, history, issuer.qr(device, at=later), later) == "passback"
        later = NOW + DEFAULT_PASSBACK + 1
        assert self.scan(issuer, history, issuer.qr(device, at=later), later) == "ok"

    def test_another_bus_is_not_passback(self, issuer, device):
        history = MemoryHistory()
        assert self.scan(issuer, history, issuer.qr(device), NOW) == "ok"
        fresh = issuer.qr(device, at=NOW + 30)
        assert self.scan(issuer, history, fresh, NOW + 30, vehicle="29B-555.55") == "ok"

    def test_passback_zero_disables_it(self, issuer, device):
        history = MemoryHistory()
        assert self.scan(issuer, history, issuer.qr(device), NOW) == "ok"
        fresh = issuer.qr(device, at=NOW + 30)
        assert self.scan(issuer, history, fresh, NOW + 30, passback=0) == "ok"

    def test_refusals_leave_no_history(self, issuer, device):
        """A refused scan is not a ride: it neither replays nor passes back."""
        history = MemoryHistory()
        text = issuer.qr(device)
        assert self.scan(issuer, history, text, NOW, route="33") == "wrong_route"
        assert self.scan(issuer, history, text, NOW + 1) == "ok"

    def test_replay_is_per_pass_and_proof_time(self, issuer, device):
        """Another pass proving the same second is a different scan."""
        history = MemoryHistory()
        assert self.scan(issuer, history, issuer.qr(device), NOW) == "ok"
        other = issuer.qr(device, pass_id="9Q2TB7K3MX")
        assert self.scan(issuer, history, other, NOW) == "ok"


class TestNeverRaises:
    @pytest.mark.parametrize("text", [
        None, b"VX1:", 42, "", "VX1:", "VX1", "VX", "VX0:", "VX01:00", "VXZ:ABC", "VX1:\x00",
        "VX1:é", "VX1:\ud800", "VX1:" + "0" * 996, "VX1:" + "0" * 997, "\n" * 2000,
        "VX1:" + "%" * 300, "VX1:" + ":" * 300,
    ])
    def test_odd_inputs_are_refused(self, issuer, text):
        decision = decide(text, issuer.trust())
        assert decision.reason in {"malformed", "unsupported_version"}
        assert decision.to_dict()["pass"] is None
