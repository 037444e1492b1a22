"""The golden vectors (tests/vectors/*.json) through vexe and through a reference decoder.

The reference decoder below is written from docs/qr-format.md with nothing of vexe's code:
the base45 package, zlib, json, PyJWT and cryptography. Both must reach the decision the
vectors state, so the vectors, the document and the code agree.
"""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import zlib
from pathlib import Path

import base45
import jwt
import pytest
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from shared import keys, reasons
from shared.denylist import Denylist
from shared.trip import ACCEPT, REFUSE, Trip, new_trip_id
from validator.check import check
from validator.journal import Journal

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


JWKS = load("jwks.json")
DENYLIST = load("denylist.json")
CASES = load("cases.json")
SEQUENCES = load("sequences.json")
STEPS = load("steps.json")
KEYS = load("keys.json")


def vectors(items: list[dict]) -> list:
    """One pytest param per vector, named after it."""
    return [pytest.param(item, id=item["name"]) for item in items]


# -- a validator from the document alone ---------------------------------------------------

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
DICTIONARY = bytes.fromhex(
    "7b22616c67223a224564445341222c226b6964223a22227d007b226a7469223a22222c22706964223a22222c"
    "22707264223a2246222c22636174223a22656c6465726c79222c22707264223a224d222c22727473223a5b22"
    "2a225d2c22707264223a2253222c22727473223a5b22222c226e6266223a31372c22657870223a31372c2276"
    "66223a31372c227675223a31372c22636e66223a7b2264706b223a22")


class Refused(Exception):
    def __init__(self, reason):
        self.reason = reason


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    import base64

    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def reference_credential(text: str, jwks: dict, now: int):
    """Steps 1-4 of the document: (claims, proof time). Raises Refused(reason)."""
    if not isinstance(text, str) or len(text) > 1000:
        raise Refused("malformed")
    if not text.startswith("VX1:"):
        raise Refused("unsupported_version" if re.match(r"VX[0-9A-Z]+:", text) else "malformed")
    encoded = text[4:]
    if any(char not in ALPHABET for char in encoded):
        raise Refused("malformed")
    try:
        body = base45.b45decode(encoded)
    except ValueError:
        raise Refused("malformed") from None
    if len(body) <= 132:
        raise Refused("malformed")
    z, s1, t, s2 = body[:-132], body[-132:-68], body[-68:-64], body[-64:]
    inflater = zlib.decompressobj(wbits=-15, zdict=DICTIONARY)
    try:
        inflated = inflater.decompress(z, 1024)
    except zlib.error:
        raise Refused("malformed") from None
    if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise Refused("malformed")
    header_json, sep, payload_json = inflated.partition(b"\x00")
    if not sep:
        raise Refused("malformed")
    try:
        header = json.loads(header_json)
    except ValueError:
        raise Refused("malformed") from None
    if not isinstance(header, dict) or set(header) - {"alg", "kid", "typ"} or \
            header.get("typ", "JWT") != "JWT":
        raise Refused("malformed")
    if header.get("alg") != "EdDSA":
        raise Refused("bad_signature")
    if not isinstance(header.get("kid"), str):
        raise Refused("malformed")
    jwk = next((k for k in jwks["keys"] if k["kid"] == header["kid"]), None)
    if jwk is None or now < jwk.get("nbf", now) or now >= jwk.get("exp", now + 1):
        raise Refused("unknown_key")
    jws = f"{_b64url(header_json)}.{_b64url(payload_json)}.{_b64url(s1)}"
    try:
        payload = jwt.decode(jws, jwt.PyJWK(jwk).key, algorithms=["EdDSA"],
                             options={"verify_exp": False, "verify_nbf": False,
                                      "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise Refused("bad_signature") from None
    except jwt.DecodeError:
        raise Refused("malformed") from None
    claims = reference_claims(payload)
    try:
        device = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), _b64url_decode(claims["cnf"]["dpk"]))
        r, s = int.from_bytes(s2[:32], "big"), int.from_bytes(s2[32:], "big")
        message = b"VXP1" + t + claims["jti"].encode("utf-8")
        device.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        raise Refused("bad_proof") from None
    return claims, struct.unpack(">I", t)[0]


def reference_claims(payload) -> dict:
    def short(value, size=64):
        return (isinstance(value, str) and 0 < len(value) <= size
                and not re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]", value))

    def time(value):
        return type(value) is int and 0 <= value < 2**40

    ok = (isinstance(payload, dict) and payload.get("prd") in ("S", "M", "F")
          and isinstance(payload.get("rts"), list) and 0 < len(payload["rts"]) <= 64
          and all(short(route, 16) for route in payload["rts"])
          and isinstance(payload.get("cnf"), dict) and short(payload["cnf"].get("dpk"), 128)
          and short(payload.get("jti")) and short(payload.get("pid"))
          and ("cat" not in payload or payload["cat"] is None or short(payload["cat"]))
          and all(time(payload.get(name)) for name in ("nbf", "exp", "vf", "vu")))
    if not ok:
        raise Refused("malformed")
    return payload


def reference_check(text, *, jwks, denylist, route, vehicle, now, accepted) -> str:
    """The whole decision; ``accepted`` is a list of earlier rides (pid, proof, vehicle, now)."""
    try:
        claims, proof_at = reference_credential(text, jwks, now)
    except Refused as refusal:
        return refusal.reason
    entry = next((e for e in denylist["entries"] if e["pid"] == claims["pid"]), None)
    if entry is not None and entry.get("device") is None:
        return "revoked"
    if entry is not None and entry["device"] != claims["cnf"]["dpk"]:
        return "device_replaced"
    if now + 45 < claims["nbf"]:
        return "not_yet_valid"
    if not claims["vf"] <= now < claims["vu"]:
        return "outside_validity"
    if now >= claims["exp"]:
        return "expired"
    if "*" not in claims["rts"] and route not in claims["rts"]:
        return "wrong_route"
    if abs(now - proof_at) > 45:
        return "stale_proof"
    if any(pid == claims["pid"] and at == proof_at for pid, at, _, _ in accepted):
        return "replayed"
    if any(pid == claims["pid"] and bus == vehicle and now - when <= 600
           for pid, _, bus, when in accepted):
        return "passback"
    accepted.append((claims["pid"], proof_at, vehicle, now))
    return "ok"


# -- the vectors through vexe ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trust():
    return keys.TrustList.from_jwks((VECTORS / "jwks.json").read_text())


@pytest.fixture(scope="module")
def denylist():
    return Denylist.loads((VECTORS / "denylist.json").read_text())


@pytest.mark.parametrize("vector", vectors(CASES["cases"]))
def test_case_through_vexe(vector, trust, denylist):
    decision = check(vector["qr"], trust=trust, denylist=denylist, route=vector["route"],
                     vehicle=vector["vehicle"], now=vector["now"])
    shown = decision.to_dict()
    assert (shown["decision"], shown["reason"]) == (vector["expected"]["decision"],
                                                    vector["expected"]["reason"])
    assert shown["message"] == CASES["messages"][vector["expected"]["reason"]]


@pytest.mark.parametrize("vector", vectors(CASES["cases"]))
def test_case_through_the_reference_decoder(vector):
    reason = reference_check(vector["qr"], jwks=JWKS, denylist=DENYLIST, route=vector["route"],
                             vehicle=vector["vehicle"], now=vector["now"], accepted=[])
    assert reason == vector["expected"]["reason"]


SIGNED = {"ok", "revoked", "device_replaced", "not_yet_valid", "expired", "outside_validity", "wrong_route",
          "stale_proof", "bad_proof", "replayed", "passback"}


@pytest.mark.parametrize("vector", vectors([case for case in CASES["cases"]
                                            if case["expected"]["reason"] in SIGNED]))
def test_credential_verifies_with_pyjwt(vector):
    """Every vector whose issuer signature is good holds a standard JWS that PyJWT verifies."""
    body = base45.b45decode(vector["qr"][4:])
    inflated = zlib.decompressobj(-15, zdict=DICTIONARY).decompress(body[:-132])
    header_json, _, payload_json = inflated.partition(b"\x00")
    jws = f"{_b64url(header_json)}.{_b64url(payload_json)}.{_b64url(body[-132:-68])}"
    jwk = jwt.PyJWKSet.from_dict(JWKS)[jwt.get_unverified_header(jws)["kid"]]
    claims = jwt.decode(jws, jwk.key, algorithms=["EdDSA"],
                        options={"verify_exp": False, "verify_nbf": False})
    assert claims == json.loads(payload_json)


@pytest.mark.parametrize("vector", vectors([case for case in CASES["cases"] if
                                            case["expected"]["reason"] == "bad_signature"]))
def test_forged_credential_fails_pyjwt(vector):
    body = base45.b45decode(vector["qr"][4:])
    inflated = zlib.decompressobj(-15, zdict=DICTIONARY).decompress(body[:-132])
    header_json, _, payload_json = inflated.partition(b"\x00")
    jws = f"{_b64url(header_json)}.{_b64url(payload_json)}.{_b64url(body[-132:-68])}"
    jwk = jwt.PyJWKSet.from_dict(JWKS).keys[0]
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(jws, jwk.key, algorithms=["EdDSA"],
                   options={"verify_exp": False, "verify_nbf": False})


# -- sequences: a journal between scans -----------------------------------------------------

class MemoryHistory:
    """validator.check.History over a list, remembering accepted scans only."""

    def __init__(self):
        self.rides = []

    def proof_used(self, pass_id, proof_at):
        return any(pid == pass_id and at == proof_at for pid, at, _, _ in self.rides)

    def accepted_since(self, pass_id, vehicle, since_ms):
        return any(pid == pass_id and bus == vehicle and ms >= since_ms
                   for pid, _, bus, ms in self.rides)

    def remember(self, decision, scan):
        if decision.accepted:
            self.rides.append((decision.claims.pid, decision.proof_at, scan["vehicle"],
                               scan["now"] * 1000))


class JournalHistory:
    """The validator's own journal (SQLite), fed every scan as the validator would."""

    def __init__(self, path):
        self.journal = Journal(path)

    def __getattr__(self, name):
        return getattr(self.journal, name)

    def remember(self, decision, scan):
        claims = decision.claims
        at_ms = scan["now"] * 1000
        self.journal.record(Trip(
            id=new_trip_id(at_ms), validator="vectors", vehicle=scan["vehicle"],
            route=scan["route"], stop=None, at_ms=at_ms,
            decision=ACCEPT if decision.accepted else REFUSE, reason=decision.reason,
            pass_id=claims.pid if claims else None, proof_at=decision.proof_at))


@pytest.fixture(params=["memory", "journal"])
def history(request, tmp_path):
    if request.param == "memory":
        yield MemoryHistory()
        return
    journaled = JournalHistory(tmp_path / "journal.db")
    yield journaled
    journaled.journal.close()


@pytest.mark.parametrize("sequence", vectors(SEQUENCES["sequences"]))
def test_sequence_through_vexe(sequence, history, trust, denylist):
    reasons_seen = []
    for scan in sequence["scans"]:
        decision = check(scan["qr"], trust=trust, denylist=denylist, route=scan["route"],
                         vehicle=scan["vehicle"], now=scan["now"], history=history)
        history.remember(decision, scan)
        reasons_seen.append(decision.reason)
    assert reasons_seen == [scan["expected"]["reason"] for scan in sequence["scans"]]


@pytest.mark.parametrize("sequence", vectors(SEQUENCES["sequences"]))
def test_sequence_through_the_reference_decoder(sequence):
    accepted = []
    reasons_seen = [reference_check(scan["qr"], jwks=JWKS, denylist=DENYLIST,
                                    route=scan["route"], vehicle=scan["vehicle"],
                                    now=scan["now"], accepted=accepted)
                    for scan in sequence["scans"]]
    assert reasons_seen == [scan["expected"]["reason"] for scan in sequence["scans"]]


# -- the files themselves ------------------------------------------------------------------

def test_every_reason_code_and_product_has_a_vector():
    expected = [case["expected"] for case in CASES["cases"]]
    expected += [scan["expected"] for seq in SEQUENCES["sequences"] for scan in seq["scans"]]
    assert {item["reason"] for item in expected} == set(reasons.REASONS)
    assert all((item["decision"] == "accept") == (item["reason"] == "ok") for item in expected)
    accepted = {case["name"] for case in CASES["cases"] if case["expected"]["reason"] == "ok"}
    assert {"accept-single", "accept-multi", "accept-free"} <= accepted


def test_steps_one_by_one():
    """The intermediate values of one case, each derived from the one before."""
    s = STEPS
    assert s["qr"] == "VX1:" + s["base45_text"] and len(s["qr"]) == s["qr_length"]
    body = base45.b45decode(s["base45_text"])
    assert body.hex() == s["body_hex"] and len(body) == s["body_length"]
    z = body[:-132]
    assert z.hex() == s["z_hex"] and len(z) == s["z_length"]
    inflated = zlib.decompressobj(-15, zdict=DICTIONARY).decompress(z)
    assert inflated.hex() == s["inflated_hex"]
    assert inflated == s["header_json"].encode() + b"\x00" + s["payload_json"].encode()
    assert body[-132:-68].hex() == s["s1_hex"]
    assert body[-68:-64].hex() == s["t_hex"] and int(s["t_hex"], 16) == s["t"]
    assert body[-64:].hex() == s["s2_hex"] == s["s2_r_hex"] + s["s2_s_hex"]
    signing_input = f"{_b64url(s['header_json'].encode())}.{_b64url(s['payload_json'].encode())}"
    assert s["signing_input"] == signing_input
    assert s["jws"] == signing_input + "." + _b64url(bytes.fromhex(s["s1_hex"]))
    issuer = ed25519.Ed25519PublicKey.from_public_bytes(_b64url_decode(s["issuer_public_x"]))
    issuer.verify(bytes.fromhex(s["s1_hex"]), signing_input.encode())
    jti = json.loads(s["payload_json"])["jti"]
    message = b"VXP1" + bytes.fromhex(s["t_hex"]) + jti.encode()
    assert message.hex() == s["proof_message_hex"]
    device = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), _b64url_decode(s["device_public_compressed"]))
    assert device.public_bytes(serialization.Encoding.X962,
                               serialization.PublicFormat.UncompressedPoint).hex() == \
        s["device_public_uncompressed_hex"]
    der = encode_dss_signature(int(s["s2_r_hex"], 16), int(s["s2_s_hex"], 16))
    device.verify(der, message, ec.ECDSA(hashes.SHA256()))


def test_key_file_matches_the_jwks():
    published = {jwk["kid"]: jwk for jwk in JWKS["keys"]}
    for role, entry in KEYS["issuer"].items():
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(entry["seed_hex"]))
        assert keys.key_id(key) == entry["kid"]
        assert _b64url(keys.raw_public(key)) == entry["public_x"]
        assert (entry["kid"] in published) == (role != "untrusted")
    for entry in KEYS["device"].values():
        key = keys.load_device_private_pem(entry["private_pem"].encode())
        assert f"{key.private_numbers().private_value:064x}" == entry["private_scalar_hex"]
        assert keys.device_public_compressed(key) == entry["public_compressed"]
        assert keys.device_public_compressed(keys.load_device_public(entry["public_jwk"])) == \
            entry["public_compressed"]


def test_the_document_shows_the_code_and_the_vectors():
    """docs/qr-format.md: the dictionary is the code's, the inline vector is the file's."""
    from shared import ticket

    assert DICTIONARY == ticket.DICTIONARY
    doc = (Path(__file__).parent.parent / "docs" / "qr-format.md").read_text(encoding="utf-8")
    assert DICTIONARY.hex() in doc.replace("\n", "").replace(" ", "")
    for value in ("qr", "jws", "z_hex", "s1_hex", "s2_r_hex", "s2_s_hex", "header_json",
                  "payload_json", "proof_message_hex", "device_public_compressed"):
        assert STEPS[value] in doc, value
    assert CASES["cases"][0]["name"] == STEPS["case"] == "accept-single"
    assert CASES["cases"][0]["qr"] == STEPS["qr"]


def test_the_generator_reproduces_the_files():
    """RFC 6979 proofs make the generator deterministic: the files are exactly its output."""
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    try:
        produced = generator.files()
    except UnsupportedAlgorithm:
        pytest.skip("this OpenSSL has no deterministic ECDSA")
    for name, content in produced.items():
        assert (VECTORS / name).read_text(encoding="utf-8") == content, name
