"""What the issuer hands the phone so that it can build the QR without DEFLATE: the fixed
first part of the body, Z || S1, beside the credential. The phone appends T and its proof
signature and base45-encodes; here Python does what the card's script does."""

import json
import struct

import base45

from tests.issuer.issuer_testkit import verify_qr
from shared import b64, clock, keys, ticket
from shared.denylist import Denylist
from validator.check import check


def phone_qr(head_b64: str, jti: str, device, at: int) -> str:
    """The card's steps: head || T || sign("VXP1" || T || jti), base45, prefix."""
    proof = keys.sign_raw(device, ticket.proof_message(at, jti))
    body = b64.decode(head_b64) + struct.pack(">I", at) + proof
    return ticket.PREFIX + base45.b45encode(body).decode("ascii")


class TestBodyHead:
    def test_bind_and_refresh_hand_out_the_head_of_their_credential(self, api, device):
        token, p = api.rider_pass()
        key = keys.device_public_compressed(device)
        bound = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                       json={"public_key": key})
        refreshed = api.ok("POST", f"/api/passes/{p['id']}/credential", token=token)
        for issued in (bound, refreshed):
            assert b64.decode(issued["qr_body_head"]) == ticket.body_head(issued["credential"])
            # The same bytes as the issuer's own encoder: only T and S2 differ.
            at = int(clock.now())
            whole = ticket.parse_qr(ticket.encode_qr(issued["credential"], device, at))
            head = b64.decode(issued["qr_body_head"])
            assert head[-64:] == whole.issuer_signature
        assert bound["credential"] != refreshed["credential"]
        assert bound["qr_body_head"] != refreshed["qr_body_head"]

    def test_a_qr_built_from_the_head_is_a_ride(self, api, device):
        token, p = api.rider_pass()
        issued = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                        json={"public_key": keys.device_public_compressed(device)})
        jti = json.loads(b64.decode(issued["credential"].split(".")[1]))["jti"]
        now = int(clock.now())
        text = phone_qr(issued["qr_body_head"], jti, device, now)
        _, claims = verify_qr(text, api.jwks(), now)
        assert claims.pid == p["id"]
        decision = check(text, trust=keys.TrustList.from_jwks(api.jwks()),
                         denylist=Denylist.empty(), route="32", vehicle="29B-100.01", now=now)
        assert decision.reason == "ok"

    def test_custodial_answer_still_keeps_the_credential_to_the_issuer(self, api):
        token, p = api.rider_pass()
        out = api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token)
        assert "credential" not in out and "qr_body_head" not in out
