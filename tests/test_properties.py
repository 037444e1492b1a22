"""Property-based tests of the validator's check: whatever text a scanner hands over, the
check answers with a reason code, never raises, and never accepts what it should refuse."""

from __future__ import annotations

import base45
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import clock, keys, reasons, ticket
from shared.denylist import Denylist
from validator.check import check

NOW = 1795136400  # 2026-11-20 01:00:00 UTC
ROUTE = "32"

ISSUER = keys.new_signing_key()
TRUST = keys.TrustList([keys.TrustedKey(keys.key_id(ISSUER), ISSUER.public_key())])
PHONE = keys.new_device_key()
START, END = clock.month_bounds(2026, 11)
CREDENTIAL = ticket.mint_credential(
    ISSUER, jti="prop0001", pass_id="PROPERTY01", product="S", routes=[ROUTE],
    valid_from=START, valid_until=END, device_key=keys.device_public_compressed(PHONE), now=NOW)
GOOD = ticket.encode_qr(CREDENTIAL, PHONE, NOW)
GOOD_PARTS = ticket.parse_qr(GOOD)

ALPHABET = ticket.B45_ALPHABET
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def decide(text: str):
    return check(text, trust=TRUST, denylist=Denylist.empty(), route=ROUTE, vehicle="29B-1",
                 now=NOW)


def refused_or_same(text: str) -> bool:
    """Refused with a known reason, or accepted only as the very same ticket."""
    decision = decide(text)
    assert decision.reason in reasons.REASONS
    return not decision.accepted or ticket.parse_qr(text) == GOOD_PARTS


class TestAnyText:
    @SETTINGS
    @given(st.text(max_size=1200))
    def test_any_text_is_refused_without_raising(self, text):
        assert not decide(text).accepted

    @SETTINGS
    @given(st.text(alphabet=ALPHABET, max_size=600))
    def test_any_base45_text_behind_the_prefix_is_refused(self, tail):
        assert not decide(ticket.PREFIX + tail).accepted

    @SETTINGS
    @given(st.binary(max_size=500))
    def test_any_body_is_refused(self, body):
        assert not decide(ticket.PREFIX + base45.b45encode(body).decode()).accepted


class TestNearAValidQR:
    def test_the_valid_qr_is_accepted(self):
        assert decide(GOOD).accepted

    @SETTINGS
    @given(st.data())
    def test_any_splice_of_the_valid_qr(self, data):
        """Replace any slice of the text with any base45 characters."""
        start = data.draw(st.integers(0, len(GOOD)))
        end = data.draw(st.integers(start, min(len(GOOD), start + 40)))
        new = data.draw(st.text(alphabet=ALPHABET, max_size=40))
        assert refused_or_same(GOOD[:start] + new + GOOD[end:])

    @SETTINGS
    @given(st.data())
    def test_any_change_to_the_body(self, data):
        """Overwrite any bytes of the decoded body, re-encoded as a scanner would read it."""
        body = bytearray(base45.b45decode(GOOD[len(ticket.PREFIX):]))
        start = data.draw(st.integers(0, len(body) - 1))
        patch = data.draw(st.binary(min_size=1, max_size=16))
        body[start:start + len(patch)] = patch
        assert refused_or_same(ticket.PREFIX + base45.b45encode(bytes(body)).decode())

    @SETTINGS
    @given(st.integers(0, 2**32 - 1))
    def test_any_proof_time_without_a_new_signature(self, proof_time):
        """Moving the proof time without the phone's key never makes a screenshot live."""
        text = ticket.assemble_qr(GOOD_PARTS.header_json, GOOD_PARTS.payload_json,
                                  GOOD_PARTS.issuer_signature, proof_time,
                                  GOOD_PARTS.proof_signature)
        assert proof_time == NOW or decide(text).reason == "bad_proof"
