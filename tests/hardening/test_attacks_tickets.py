"""Attacks on the QR that tests/test_format.py and tests/test_check.py leave out: another
issuer's key under a trusted kid, keys of the wrong curve, and replays across vehicles.

A screenshot shown on another bus inside the freshness window is the one replay an offline
validator cannot see; the test shows that it is accepted there and that the ingest then
raises a cloned-pass alert with both scans.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from issuer.platform import db
from backoffice import ingest
from shared import b64, clock, keys, ticket
from shared.denylist import Denylist
from validator.check import DEFAULT_FRESHNESS, check
from validator.device import Validator
from validator.sync import Syncer, connect
from tests.testkit import ROUTE, Issuer

NOW = 1_795_136_400  # 2026-11-20 12:00 in Hanoi


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'vexe.db'}"


def decide(text: str, trust: keys.TrustList, now: float = NOW):
    return check(text, trust=trust, denylist=Denylist.empty(), route=ROUTE, vehicle="B1",
                 now=now)


def signed(signing_key: ed25519.Ed25519PrivateKey, header: dict, payload: dict) -> str:
    """A compact JWS made by hand, so any kid and any claim can be put in it."""
    head = b64.encode(json.dumps(header, separators=(",", ":")).encode())
    body = b64.encode(json.dumps(payload, separators=(",", ":")).encode())
    signature = signing_key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64.encode(signature)}"


def claims(device_key: str, jti: str = "c1") -> dict:
    start, end = clock.month_bounds(2026, 11)
    return {"jti": jti, "pid": "PASS0001", "prd": "S", "rts": [ROUTE], "nbf": NOW - 60,
            "exp": NOW + 3600, "vf": start, "vu": end, "cnf": {"dpk": device_key}}


class TestIssuerKeys:
    def test_another_issuers_key_under_a_trusted_kid(self):
        """kid names a key; it does not vouch for one. The signature is checked with the
        trusted key of that kid, and another key's signature does not verify."""
        real = Issuer()
        phone = keys.new_device_key()
        mallory = keys.new_signing_key()
        jws = signed(mallory, {"alg": "EdDSA", "kid": real.kid},
                     claims(keys.device_public_compressed(phone)))
        assert decide(ticket.encode_qr(jws, phone, NOW), real.trust).reason == "bad_signature"

    def test_one_trusted_key_signing_under_the_other_trusted_kid(self):
        old, new = keys.new_signing_key(), keys.new_signing_key()
        trust = keys.TrustList([keys.TrustedKey(keys.key_id(k), k.public_key())
                                for k in (old, new)])
        phone = keys.new_device_key()
        jws = signed(old, {"alg": "EdDSA", "kid": keys.key_id(new)},
                     claims(keys.device_public_compressed(phone)))
        assert decide(ticket.encode_qr(jws, phone, NOW), trust).reason == "bad_signature"
        right = signed(old, {"alg": "EdDSA", "kid": keys.key_id(old)},
                       claims(keys.device_public_compressed(phone)))
        assert decide(ticket.encode_qr(right, phone, NOW), trust).accepted

    @pytest.mark.parametrize("jwk", [
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k"},
        {"kty": "OKP", "crv": "Ed448", "x": "AA", "kid": "k"},
        {"kty": "OKP", "crv": "X25519", "x": b64.encode(b"\0" * 32), "kid": "k"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "k"},
        {"kty": "OKP", "crv": "Ed25519", "x": b64.encode(b"\0" * 32), "kid": "k", "alg": "HS256"},
    ])
    def test_a_trust_list_with_a_key_of_another_kind_is_refused_whole(self, jwk):
        with pytest.raises(ValueError):
            keys.TrustList.from_jwks({"keys": [jwk]})


def _compressed(curve: ec.EllipticCurve) -> str:
    point = ec.generate_private_key(curve).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return b64.encode(point)


class TestDeviceKeyCurves:
    @pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1(), ec.SECP224R1()])
    def test_a_credential_binding_a_key_of_another_curve_is_bad_proof(self, curve):
        """Even if the issuer were made to sign one: the point is not 33 or 65 bytes of
        P-256, so no proof can be checked and none is accepted."""
        issuer = Issuer()
        phone = ec.generate_private_key(curve)
        jws = signed(issuer.signing_key, {"alg": "EdDSA", "kid": issuer.kid},
                     claims(_compressed(curve)))
        header, payload, signature = jws.split(".")
        jti = json.loads(b64.decode(payload))["jti"]
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(phone.sign(ticket.proof_message(NOW, jti),
                                               ec.ECDSA(hashes.SHA256())))
        size = (curve.key_size + 7) // 8
        proof = (r.to_bytes(size, "big") + s.to_bytes(size, "big"))[:64].ljust(64, b"\0")
        text = ticket.assemble_qr(b64.decode(header), b64.decode(payload), b64.decode(signature),
                                  NOW, proof)
        assert decide(text, issuer.trust).reason == "bad_proof"

    def test_a_secp256k1_point_never_verifies_as_p256(self):
        """Same size as a P-256 point: it decodes as some P-256 point or none, and a proof
        by the secp256k1 key verifies under neither."""
        issuer = Issuer()
        phone = ec.generate_private_key(ec.SECP256K1())
        dpk = _compressed_of(phone)
        jws = signed(issuer.signing_key, {"alg": "EdDSA", "kid": issuer.kid}, claims(dpk))
        header, payload, signature = jws.split(".")
        proof = keys.sign_raw(phone, ticket.proof_message(NOW, "c1"))
        text = ticket.assemble_qr(b64.decode(header), b64.decode(payload), b64.decode(signature),
                                  NOW, proof)
        assert decide(text, issuer.trust).reason == "bad_proof"

    @pytest.mark.parametrize("public_key", [
        lambda: _compressed(ec.SECP384R1()),
        lambda: _jwk(ec.SECP384R1(), "P-384"),
        lambda: _jwk(ec.SECP256K1(), "secp256k1"),
        lambda: {**_jwk(ec.SECP256K1(), "P-256")},  # a secp256k1 point called P-256
        lambda: {"kty": "OKP", "crv": "Ed25519",
                 "x": b64.encode(keys.raw_public(keys.new_signing_key()))},
    ])
    def test_the_issuer_binds_p256_keys_only(self, api, public_key):
        token, issued = api.rider_pass("multi")
        key = public_key()
        response = api.call("POST", f"/api/passes/{issued['id']}/device", token=token,
                            json={"public_key": key})
        assert response.status_code == 400, response.get_json()
        assert "P-256" in response.get_json()["error"]


def _compressed_of(private: ec.EllipticCurvePrivateKey) -> str:
    return b64.encode(private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint))


def _jwk(curve: ec.EllipticCurve, name: str) -> dict:
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    size = (curve.key_size + 7) // 8
    return {"kty": "EC", "crv": name, "x": b64.encode(numbers.x.to_bytes(size, "big")),
            "y": b64.encode(numbers.y.to_bytes(size, "big"))}


class TestReplay:
    """One rider's QR, photographed at NOW, shown again by someone else."""

    @pytest.fixture
    def buses(self, tmp_path):
        made = [Validator(validator_id=f"R{n}", vehicle=f"29B-00{n}.01", route=ROUTE,
                          data_dir=tmp_path / f"v{n}") for n in (1, 2)]
        yield made
        for bus in made:
            bus.close()

    def test_on_the_same_bus_inside_the_window(self, buses):
        issuer = Issuer()
        for bus in buses:
            bus.lists.update_trust(issuer.trust.dumps())
        shot = issuer.rider(now=NOW).qr(NOW)
        assert buses[0].scan(shot, NOW).accepted
        assert buses[0].scan(shot, NOW + 20).reason == "replayed"

    def test_after_the_window_on_any_bus(self, buses):
        issuer = Issuer()
        for bus in buses:
            bus.lists.update_trust(issuer.trust.dumps())
        shot = issuer.rider(now=NOW).qr(NOW)
        assert buses[0].scan(shot, NOW).accepted
        late = NOW + DEFAULT_FRESHNESS + 1
        assert [bus.scan(shot, late).reason for bus in buses] == ["stale_proof", "stale_proof"]

    def test_a_credential_copied_to_another_phone(self, buses):
        """The copy has the credential but not the device key: its proofs are its own key's.
        Refused, and journaled with the pass id so operators see which pass was copied."""
        issuer = Issuer()
        buses[0].lists.update_trust(issuer.trust.dumps())
        rider = issuer.rider(now=NOW)
        copy = ticket.encode_qr(rider.credential, keys.new_device_key(), NOW)
        scan = buses[0].scan(copy, NOW)
        assert scan.reason == "bad_proof" and scan.trip.pass_id == rider_pass_id(rider)

    def test_on_another_bus_inside_the_window_is_caught_by_the_ingest(
            self, buses, redis_url, database_url):
        """Two offline validators cannot know of each other's scans: the second bus accepts.
        Once both have synced, the ingest raises a cloned-pass alert naming both trips."""
        issuer = Issuer()
        for bus in buses:
            bus.lists.update_trust(issuer.trust.dumps())
        now = clock.now()
        shot = issuer.rider(now=now).qr(now)
        first, second = buses[0].scan(shot, now), buses[1].scan(shot, now + 30)
        assert first.accepted and second.accepted
        clients = []
        for bus in buses:
            clients.append(connect(redis_url))
            Syncer(bus.journal, bus.lists, clients[-1], validator_id=bus.validator_id) \
                .push_all(now + 31)
        db.migrate(database_url)
        client = ingest.connect(redis_url)
        try:
            worker = ingest.Worker(database_url, client, "w1")
            worker.ensure_group()
            assert worker.drain(now + 32) == 2
        finally:
            client.close()
            for c in clients:
                c.close()
        with db.engine(database_url).connect() as conn:
            alerts = conn.execute(sa.text(
                "SELECT pass_id, first_trip_id, second_trip_id FROM clone_alerts")).all()
        db.dispose(database_url)
        assert alerts == [(first.trip.pass_id, first.trip.id, second.trip.id)]


def rider_pass_id(rider) -> str:
    return json.loads(b64.decode(rider.credential.split(".")[1]))["pid"]

