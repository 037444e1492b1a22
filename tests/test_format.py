"""The QR format v1, byte by byte (docs/qr-format.md).

Round trips per product, the standard JWS inside the QR, strict parsing of every part, QR
sizes, and the exhaustive mutation test: every single-character change of a valid QR text
and every single-bit change of its body is refused, and nothing raises.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import zlib

import base45
import jwt
import pytest
import qrcode
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from qrcode.constants import ERROR_CORRECT_M

from shared import b64, clock, keys, ticket
from shared.denylist import Denylist
from shared.errors import Malformed
from validator.check import check

NOV = clock.month_bounds(2026, 11)
NOW = 1795136400  # 2026-11-20 01:00:00 UTC
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# (product, routes, category, a route it covers): realistic ids, the longest category.
PRODUCTS = {
    "single": ("S", ["BRT01"], None, "BRT01"),
    "multi": ("M", ["*"], None, "E10"),
    "free": ("F", ["*"], "disability", "32"),
}


@pytest.fixture(scope="module")
def issuer_key():
    return keys.new_signing_key()


@pytest.fixture(scope="module")
def trust(issuer_key):
    return keys.TrustList([keys.TrustedKey(keys.key_id(issuer_key), issuer_key.public_key())])


@pytest.fixture(scope="module")
def device():
    return keys.new_device_key()


def mint(issuer_key, device, product="single", now=NOW):
    code, routes, category, _ = PRODUCTS[product]
    return ticket.mint_credential(
        issuer_key, jti=b64.encode(b"\x8f\x1e\x00\xa7\x33\xc2"), pass_id="7K3M9QX2TB",
        product=code, routes=routes, valid_from=NOV[0], valid_until=NOV[1],
        device_key=keys.device_public_compressed(device), now=now, category=category)


@pytest.fixture(scope="module")
def credential(issuer_key, device):
    return mint(issuer_key, device)


@pytest.fixture(scope="module")
def good(credential, device):
    """A valid single-route QR text."""
    return ticket.encode_qr(credential, device, NOW)


@pytest.fixture(scope="module")
def payload(good):
    return json.loads(ticket.parse_qr(good).payload_json)


def decide(text, trust, route="BRT01", now=NOW):
    return check(text, trust=trust, denylist=Denylist.empty(), route=route, vehicle="29B-1",
                 now=now)


def sign_parts(issuer_key, header, payload) -> tuple[bytes, bytes, bytes]:
    """Header and payload (dicts or raw bytes) with the issuer's signature over them."""
    def raw(part):
        return part if isinstance(part, bytes) else json.dumps(part, separators=(",", ":")).encode()

    header_json, payload_json = raw(header), raw(payload)
    signing_input = f"{b64.encode(header_json)}.{b64.encode(payload_json)}".encode()
    return header_json, payload_json, issuer_key.sign(signing_input)


def forge(issuer_key, device, header, payload, at=NOW, jti="c1") -> str:
    header_json, payload_json, signature = sign_parts(issuer_key, header, payload)
    proof = keys.sign_raw(device, ticket.proof_message(at, jti))
    return ticket.assemble_qr(header_json, payload_json, signature, at, proof)


def body_of(text: str) -> bytes:
    return base45.b45decode(text[len(ticket.PREFIX):])


def text_of(body: bytes) -> str:
    return ticket.PREFIX + base45.b45encode(body).decode("ascii")


def split_body(body: bytes) -> tuple[bytes, bytes, int, bytes]:
    z, s1, t, s2 = body[:-132], body[-132:-68], body[-68:-64], body[-64:]
    return z, s1, struct.unpack(">I", t)[0], s2


def inflate(z: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15, zdict=ticket.DICTIONARY)
    data = unpacker.decompress(z)
    assert unpacker.eof and not unpacker.unused_data
    return data


class TestRoundTrip:
    @pytest.mark.parametrize("product", PRODUCTS)
    def test_qr_carries_the_credential_and_a_proof(self, issuer_key, trust, device, product):
        credential = mint(issuer_key, device, product)
        text = ticket.encode_qr(credential, device, NOW + 7)
        parsed = ticket.parse_qr(text)
        assert parsed.jws == credential
        assert parsed.proof_time == NOW + 7
        claims = ticket.verify_credential(parsed, trust, NOW)
        ticket.verify_proof(parsed, claims)
        code, routes, category, route = PRODUCTS[product]
        assert (claims.product, claims.routes, claims.category) == (code, tuple(routes), category)
        assert decide(text, trust, route=route).accepted

    @pytest.mark.parametrize("product", PRODUCTS)
    def test_pyjwt_verifies_the_rebuilt_jws_from_the_jwks(self, issuer_key, trust, device,
                                                          product):
        """Any JOSE library checks the level-1 credential with the trust list's JWK."""
        credential = mint(issuer_key, device, product)
        parsed = ticket.parse_qr(ticket.encode_qr(credential, device, NOW))
        jwk = json.loads(trust.dumps())["keys"][0]
        assert jwt.get_unverified_header(parsed.jws) == {"alg": "EdDSA", "kid": jwk["kid"]}
        claims = jwt.decode(parsed.jws, jwt.PyJWK(jwk).key, algorithms=["EdDSA"],
                            options={"verify_exp": False, "verify_nbf": False})
        assert claims == json.loads(parsed.payload_json)
        assert claims["cnf"]["dpk"] == keys.device_public_compressed(device)

    def test_layout_by_hand(self, issuer_key, device):
        """Z || S1 || T || S2, with nothing but base45, zlib and the spec's constants."""
        credential = mint(issuer_key, device)
        header_b64, payload_b64, sig_b64 = credential.split(".")
        text = ticket.encode_qr(credential, device, 0x6A1E5B00)
        assert text.startswith("VX1:")
        z, s1, t, s2 = split_body(body_of(text))
        assert inflate(z) == b64.decode(header_b64) + b"\x00" + b64.decode(payload_b64)
        assert s1 == b64.decode(sig_b64)
        assert t == 0x6A1E5B00 and body_of(text)[-68:-64] == b"\x6a\x1e\x5b\x00"
        public = device.public_key()
        jti = json.loads(b64.decode(payload_b64))["jti"]
        message = b"VXP1" + b"\x6a\x1e\x5b\x00" + jti.encode()
        assert keys.verify_raw(public, s2, message)

    def test_the_header_has_exactly_alg_and_kid(self, issuer_key, device):
        parsed = ticket.parse_qr(ticket.encode_qr(mint(issuer_key, device), device, NOW))
        kid = keys.key_id(issuer_key).encode()
        assert parsed.header_json == b'{"alg":"EdDSA","kid":"%s"}' % kid

    def test_payload_claims_in_dictionary_order(self, issuer_key, device):
        """The issuer writes claims in the order the preset dictionary expects them."""
        parsed = ticket.parse_qr(ticket.encode_qr(mint(issuer_key, device, "free"), device, NOW))
        assert list(json.loads(parsed.payload_json)) == [
            "jti", "pid", "prd", "rts", "cat", "nbf", "exp", "vf", "vu", "cnf"]

    def test_a_text_of_exactly_the_limit_is_read(self, issuer_key, device, trust):
        """The 1000-character limit refuses longer texts only."""
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key)}
        payload = json.loads(ticket.parse_qr(ticket.encode_qr(mint(issuer_key, device), device,
                                                              NOW)).payload_json)
        def texts():
            # One more incompressible character at a time; DEFLATE sometimes grows by two
            # bytes at once and skips 1000, so try other padding until one lands on it.
            for seed in range(50):
                padding = b64.encode(random.Random(seed).randbytes(600))
                for size in range(300, 800):
                    payload["pad"] = padding[:size]
                    text = forge(issuer_key, device, header, payload, jti=payload["jti"])
                    if len(text) >= 1000:
                        yield text
                        break

        text = next(text for text in texts() if len(text) == 1000)
        assert decide(text, trust).accepted


class TestConstants:
    def test_dictionary_is_pinned(self):
        """Part of the format: one changed byte is a new version (and new vectors)."""
        assert len(ticket.DICTIONARY) == 160
        assert hashlib.sha256(ticket.DICTIONARY).hexdigest() == (
            "9c1d27ac6b2e81f99c5f1eb6f05cbbb4450551411c654d1a64bf1c686de78b03")

    def test_constants(self):
        assert (ticket.PREFIX, ticket.MAX_QR_TEXT, ticket.MAX_INFLATED) == ("VX1:", 1000, 1024)
        assert (ticket.SIG_LEN, ticket.TAIL_LEN, ticket.PROOF_CONTEXT) == (64, 132, b"VXP1")
        assert ticket.DEFAULT_CREDENTIAL_LIFETIME == 72 * 3600
        assert (ticket.DEFAULT_ROTATION, ticket.DEFAULT_FRESHNESS) == (30, 45)
        assert ticket.B45_ALPHABET == base45.BASE45_CHARSET

    def test_proof_message(self):
        assert ticket.proof_message(0x01020304, "aB-_") == b"VXP1\x01\x02\x03\x04aB-_"
        assert ticket.proof_message(0, "é") == b"VXP1\x00\x00\x00\x00\xc3\xa9"

    def test_key_id_is_a_hash_of_the_public_key(self, issuer_key):
        raw = issuer_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
        assert keys.key_id(issuer_key) == b64.encode(hashlib.sha256(raw).digest()[:6])
        assert len(keys.key_id(issuer_key)) == 8


class TestBase45:
    """The QR's own strict base45 decoder against the reference package."""

    def test_agrees_with_the_base45_package(self):
        rng = random.Random(45)
        for size in list(range(0, 40)) + [rng.randrange(40, 800) for _ in range(200)]:
            data = bytes(rng.randrange(256) for _ in range(size))
            text = base45.b45encode(data).decode()
            assert ticket._b45decode(text) == data

    def test_rfc_9285_examples(self):
        assert ticket._b45decode("BB8") == b"AB"
        assert ticket._b45decode("%69 VD92EX0") == b"Hello!!"
        assert ticket._b45decode("UJCLQE7W581") == b"base-45"
        assert ticket._b45decode("QED8WEX0") == b"ietf!"

    @pytest.mark.parametrize("text", [
        "QED8WEX0\n",  # the base45 package strips trailing newlines; the format does not
        "QED8WEX0\r\n", " QED8WEX0"[0:0] + "qed8wex0", "QED8WEX", "GGW", "GGW000",
        ":::", "0:", "QED8WEX0é", "QED\ud800", "A\x00B",
    ])
    def test_refuses_what_is_not_base45(self, text):
        with pytest.raises(Malformed):
            ticket._b45decode(text)

    def test_largest_groups(self):
        assert ticket._b45decode("FGW") == b"\xff\xff"
        assert ticket._b45decode("U5") == b"\xff"


class TestMalformed:
    """Texts that are not a vexe QR v1, each refused as malformed (or unsupported_version)."""

    def rebuild(self, good, *, z=None, tail=None, body=None):
        parts = body_of(good)
        body = body if body is not None else (
            (z if z is not None else parts[:-132]) + (tail if tail is not None else parts[-132:]))
        return text_of(body)

    def cases(self, good, issuer_key, device):
        z, tail = body_of(good)[:-132], body_of(good)[-132:]
        parsed = ticket.parse_qr(good)
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=ticket.DICTIONARY)
        bomb = packer.compress(parsed.header_json + b"\x00" + b" " * 100_000) + packer.flush()
        return {
            "empty": ("", "malformed"),
            "prefix only": ("VX1:", "malformed"),
            "no prefix": (good[4:], "malformed"),
            "lowercase prefix": ("vx1:" + good[4:], "malformed"),
            "version 2": ("VX2:" + good[4:], "unsupported_version"),
            "version 10": ("VX10:" + good[4:], "unsupported_version"),
            "version 01": ("VX01:" + good[4:], "unsupported_version"),
            "semicolon for colon": ("VX1;" + good[4:], "malformed"),
            "version with letters": ("VX1B:" + good[4:], "unsupported_version"),
            "character outside base45": (good[:50] + "a" + good[51:], "malformed"),
            "3n+1 characters": (good + "0", "malformed"),
            "group over 65535": (good[:4] + "GGW" + good[7:], "malformed"),
            "trailing newline": (good + "\n", "malformed"),
            "trailing CR LF": (good + "\r\n", "malformed"),
            "leading space": (" " + good, "malformed"),
            "text truncated": (good[:-3], "malformed"),
            "body cut to 100 bytes": (good[:4 + 150], "malformed"),
            "body cut to 200 bytes": (good[:4 + 300], "malformed"),
            "body only a tail": (text_of(tail), "malformed"),
            "body shorter than a tail": (text_of(tail[1:]), "malformed"),
            "DEFLATE truncated": (self.rebuild(good, z=z[:-2]), "malformed"),
            "DEFLATE not DEFLATE": (self.rebuild(good, z=b"\xff" * len(z)), "malformed"),
            "junk after the DEFLATE stream": (self.rebuild(good, z=z + b"\x00"), "malformed"),
            "two DEFLATE streams": (self.rebuild(good, z=z + z), "malformed"),
            "decompression bomb": (self.rebuild(good, z=bomb), "malformed"),
            "zlib wrapper instead of raw": (
                self.rebuild(good, z=zlib.compress(parsed.header_json + b"\x00")), "malformed"),
            "over 1000 characters": ("VX1:" + "0" * 998, "malformed"),
        }

    def test_each_malformed_text(self, good, issuer_key, device, trust):
        for name, (text, reason) in self.cases(good, issuer_key, device).items():
            assert decide(text, trust).reason == reason, name

    def test_the_bomb_really_is_one(self, good):
        parsed = ticket.parse_qr(good)
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=ticket.DICTIONARY)
        bomb = packer.compress(parsed.header_json + b"\x00" + b" " * 100_000) + packer.flush()
        assert len(bomb) < 200 and len(inflate(bomb)) > 100_000

    def test_header_separator_missing(self, issuer_key, device, trust):
        """Header and payload concatenated without the 0x00 byte."""
        header_json, payload_json, signature = sign_parts(issuer_key, {"alg": "EdDSA"}, {})
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=ticket.DICTIONARY)
        z = packer.compress(header_json + payload_json) + packer.flush()
        text = text_of(z + signature + struct.pack(">I", NOW) + b"\x01" * 64)
        assert decide(text, trust).reason == "malformed"

    def test_length_is_checked_before_anything_else(self):
        with pytest.raises(Malformed, match="too long"):
            ticket.parse_qr("VX1:" + "0" * 997)
        with pytest.raises(Malformed, match="too long"):
            ticket.parse_qr("x" * 1001)

    @pytest.mark.parametrize("header, reason", [
        (b"not json", "malformed"), (b"[]", "malformed"), (b'"EdDSA"', "malformed"),
        (b"", "malformed"), (b"\xff\xfe", "malformed"), (b'{"alg":"EdDSA"', "malformed"),
        (b'{"alg":"EdDSA","alg":"none"}', "malformed"),  # parsers disagree on which wins
    ])
    def test_header_not_a_json_object(self, issuer_key, device, trust, header, reason):
        header_json, payload_json, signature = sign_parts(issuer_key, header, {"jti": "c1"})
        text = ticket.assemble_qr(header_json, payload_json, signature, NOW, b"\x01" * 64)
        assert decide(text, trust).reason == reason

    @pytest.mark.parametrize("payload", [b"not json", b"[]", b"null", b'{"jti":"c1"'])
    def test_signed_payload_not_a_json_object(self, issuer_key, device, trust, payload):
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key)}
        assert decide(forge(issuer_key, device, header, payload), trust).reason == "malformed"


class TestHeader:
    def qr(self, issuer_key, device, header, payload, signature=None):
        header_json, payload_json, good_signature = sign_parts(issuer_key, header, payload)
        proof = keys.sign_raw(device, ticket.proof_message(NOW, payload["jti"]))
        return ticket.assemble_qr(header_json, payload_json, signature or good_signature, NOW,
                                  proof)

    @pytest.mark.parametrize("alg", ["none", "None", "HS256", "HS512", "ES256", "RS256",
                                     "eddsa", "Ed25519", "", None])
    def test_other_algorithms_are_bad_signature(self, issuer_key, device, trust, payload, alg):
        """Nothing in the header chooses how the signature is checked: only EdDSA."""
        header = {"alg": alg, "kid": keys.key_id(issuer_key)}
        if alg is None:
            del header["alg"]
        assert decide(self.qr(issuer_key, device, header, payload), trust).reason == "bad_signature"

    @pytest.mark.parametrize("algorithm", [hashes.SHA256, hashes.SHA512])
    def test_hmac_with_the_public_key_as_secret(self, issuer_key, device, trust, payload,
                                                algorithm):
        """The classic algorithm-confusion forgery, padded to the 64-byte signature slot."""
        name = "HS256" if algorithm is hashes.SHA256 else "HS512"
        header = {"alg": name, "kid": keys.key_id(issuer_key)}
        header_json, payload_json, _ = sign_parts(issuer_key, header, payload)
        secret = keys.raw_public(issuer_key)
        for key in (secret, b64.encode(secret).encode(), json.dumps(trust.to_jwks()).encode()):
            mac = hmac.HMAC(key, algorithm())
            mac.update(f"{b64.encode(header_json)}.{b64.encode(payload_json)}".encode())
            signature = mac.finalize().ljust(64, b"\x00")
            text = self.qr(issuer_key, device, header, payload, signature)
            assert decide(text, trust).reason == "bad_signature"

    def test_alg_none_with_an_empty_signature(self, issuer_key, device, trust, payload):
        header = {"alg": "none", "kid": keys.key_id(issuer_key)}
        text = self.qr(issuer_key, device, header, payload, signature=b"\x00" * 64)
        assert decide(text, trust).reason == "bad_signature"

    @pytest.mark.parametrize("extra", [
        {"crit": ["exp"]}, {"crit": []}, {"jku": "https://evil.example/jwks"},
        {"jwk": {"kty": "OKP"}}, {"x5u": "https://evil.example"}, {"b64": False},
        {"cty": "JWT"}, {"typ": "at+jwt"}, {"typ": None}, {"zip": "DEF"},
    ])
    def test_other_header_parameters_are_malformed(self, issuer_key, device, trust, payload,
                                                   extra):
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key), **extra}
        assert decide(self.qr(issuer_key, device, header, payload), trust).reason == "malformed"

    def test_typ_jwt_is_allowed(self, issuer_key, device, trust, payload):
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key), "typ": "JWT"}
        assert decide(self.qr(issuer_key, device, header, payload), trust).accepted

    @pytest.mark.parametrize("kid", [None, 7, ["k"], {"k": 1}])
    def test_kid_must_be_a_string(self, issuer_key, device, trust, payload, kid):
        header = {"alg": "EdDSA"} if kid is None else {"alg": "EdDSA", "kid": kid}
        assert decide(self.qr(issuer_key, device, header, payload), trust).reason == "malformed"

    def test_a_kid_named_twice_is_malformed(self, issuer_key, device, trust, payload):
        """Signed, but one parser would pick one kid and another the other."""
        kid = keys.key_id(issuer_key)
        header = f'{{"alg":"EdDSA","kid":"{kid}","kid":"other"}}'.encode()
        header_json, payload_json, signature = sign_parts(issuer_key, header, payload)
        proof = keys.sign_raw(device, ticket.proof_message(NOW, payload["jti"]))
        text = ticket.assemble_qr(header_json, payload_json, signature, NOW, proof)
        assert decide(text, trust).reason == "malformed"

    def test_a_claim_named_twice_is_malformed(self, issuer_key, device, trust, payload):
        """A pass id named twice: no validator may read one pass where another reads two."""
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key)}
        body = json.dumps(payload, separators=(",", ":"))
        doubled = (body[:-1] + ',"pid":"OTHERPASS1"}').encode()
        header_json, payload_json, signature = sign_parts(issuer_key, header, doubled)
        proof = keys.sign_raw(device, ticket.proof_message(NOW, payload["jti"]))
        text = ticket.assemble_qr(header_json, payload_json, signature, NOW, proof)
        assert decide(text, trust).reason == "malformed"

    @pytest.mark.parametrize("kid", ["", "AAAAAAAA", "unknown"])
    def test_unknown_kid(self, issuer_key, device, trust, payload, kid):
        header = {"alg": "EdDSA", "kid": kid}
        assert decide(self.qr(issuer_key, device, header, payload), trust).reason == "unknown_key"


class TestClaims:
    """Claims of the wrong type, signed by the real issuer key: malformed, never a crash."""

    def qr(self, issuer_key, device, payload):
        jti = payload.get("jti") if isinstance(payload.get("jti"), str) else ""
        header = {"alg": "EdDSA", "kid": keys.key_id(issuer_key)}
        return forge(issuer_key, device, header, payload, jti=jti)

    @pytest.mark.parametrize("claim, value", [
        ("jti", None), ("jti", 5), ("jti", ""), ("jti", "x" * 65), ("jti", ["c1"]),
        ("pid", None), ("pid", 12345), ("pid", "P" * 65),
        ("prd", None), ("prd", "X"), ("prd", "single"), ("prd", "s"), ("prd", ["S"]),
        ("rts", None), ("rts", "BRT01"), ("rts", []), ("rts", [32]), ("rts", [""]),
        ("rts", ["R" * 17]), ("rts", ["R"] * 65), ("rts", {"BRT01": True}),
        ("cat", 7), ("cat", ""), ("cat", ["elderly"]),
        ("nbf", None), ("nbf", str(NOW)), ("nbf", float(NOW)), ("nbf", True), ("nbf", -1),
        ("exp", None), ("exp", 2**40), ("exp", NOW + 0.5),
        ("vf", None), ("vf", "2026-11"), ("vu", None), ("vu", [NOV[1]]),
        ("cnf", None), ("cnf", "dpk"), ("cnf", {}), ("cnf", {"dpk": 33}),
        ("cnf", {"jwk": {"kty": "EC"}}), ("cnf", {"dpk": "A" * 129}),
    ])
    def test_wrong_claim_types(self, issuer_key, device, trust, payload, claim, value):
        changed = {**payload, claim: value}
        if value is None:
            del changed[claim]
        assert decide(self.qr(issuer_key, device, changed), trust).reason == "malformed"

    @pytest.mark.parametrize("dpk", [
        "not base64url!", "AAAA", b64.encode(b"\x02" + b"\xff" * 32),  # x >= p
        b64.encode(b"\x05" + b"\x01" * 32), b64.encode(b"\x04" + b"\x01" * 64),
    ])
    def test_device_key_that_is_no_point(self, issuer_key, device, trust, payload, dpk):
        changed = {**payload, "cnf": {"dpk": dpk}}
        assert decide(self.qr(issuer_key, device, changed), trust).reason == "bad_proof"

    def test_uncompressed_device_key_is_read(self, issuer_key, device, trust, payload):
        """Issuers write the compressed point; a validator also reads the uncompressed one."""
        point = device.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        changed = {**payload, "cnf": {"dpk": b64.encode(point)}}
        assert decide(self.qr(issuer_key, device, changed), trust).accepted

    def test_unknown_claims_are_ignored(self, issuer_key, device, trust, payload):
        changed = {**payload, "iss": "vexe", "note": {"any": ["thing"]}}
        assert decide(self.qr(issuer_key, device, changed), trust).accepted


class TestDeviceProof:
    def with_proof(self, credential, proof_time, proof):
        parsed = ticket.parse_qr(ticket.encode_qr(credential, keys.new_device_key(), NOW))
        return ticket.assemble_qr(parsed.header_json, parsed.payload_json,
                                  parsed.issuer_signature, proof_time, proof)

    def jti(self, credential):
        return json.loads(b64.decode(credential.split(".")[1]))["jti"]

    def test_der_signature_is_refused(self, credential, device, trust):
        """WebCrypto's raw r||s only: a DER signature neither fits the body nor verifies."""
        message = ticket.proof_message(NOW, self.jti(credential))
        der = device.sign(message, ec.ECDSA(hashes.SHA256()))
        assert not keys.verify_raw(device.public_key(), der, message)
        assert not keys.verify_raw(device.public_key(), der[:64], message)
        assert decide(self.with_proof(credential, NOW, der), trust).reason == "malformed"
        assert decide(self.with_proof(credential, NOW, der[:64].ljust(64, b"\x00")),
                      trust).reason == "bad_proof"

    def test_another_device_key(self, credential, trust):
        other = keys.new_device_key()
        proof = keys.sign_raw(other, ticket.proof_message(NOW, self.jti(credential)))
        assert decide(self.with_proof(credential, NOW, proof), trust).reason == "bad_proof"

    def test_proof_over_another_time(self, credential, device, trust):
        proof = keys.sign_raw(device, ticket.proof_message(NOW - 30, self.jti(credential)))
        assert decide(self.with_proof(credential, NOW, proof), trust).reason == "bad_proof"

    def test_proof_over_another_credential(self, credential, device, trust):
        proof = keys.sign_raw(device, ticket.proof_message(NOW, "another"))
        assert decide(self.with_proof(credential, NOW, proof), trust).reason == "bad_proof"

    def test_proof_without_the_context(self, credential, device, trust):
        message = struct.pack(">I", NOW) + self.jti(credential).encode()
        proof = keys.sign_raw(device, message)
        assert decide(self.with_proof(credential, NOW, proof), trust).reason == "bad_proof"

    @pytest.mark.parametrize("proof", [b"\x00" * 64, b"\xff" * 64,
                                       P256_ORDER.to_bytes(32, "big") * 2])
    def test_degenerate_signatures(self, credential, trust, proof):
        assert decide(self.with_proof(credential, NOW, proof), trust).reason == "bad_proof"

    def test_high_s_is_accepted(self, credential, device, trust):
        """No low-s rule: WebCrypto and phone keystores produce either half."""
        message = ticket.proof_message(NOW, self.jti(credential))
        proof = keys.sign_raw(device, message)
        s = int.from_bytes(proof[32:], "big")
        flipped = proof[:32] + (P256_ORDER - s).to_bytes(32, "big")
        assert decide(self.with_proof(credential, NOW, flipped), trust).accepted

    def test_sign_raw_is_r_then_s_big_endian(self, device):
        message = b"VXP1\x00\x00\x00\x01c1"
        proof = keys.sign_raw(device, message)
        r, s = int.from_bytes(proof[:32], "big"), int.from_bytes(proof[32:], "big")
        device.public_key().verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))


class TestMutation:
    """Every single-character change of the text and every single-bit flip of the body.

    The only changes that may still be accepted are those that decode to the very same
    parts (header, payload, both signatures, proof time): the unused bits after the last
    DEFLATE block. They carry nothing; replay is keyed on the pass and the proof time,
    never on the text.
    """

    OUTSIDE = "a\n\r\x00é\t_"

    def assert_refused_or_same(self, text, original, trust, where):
        decision = decide(text, trust)
        if decision.accepted:
            same = ticket.parse_qr(text)
            assert same == original, f"{where}: accepted a different ticket"
            return 1
        return 0

    def test_every_character_to_every_other(self, good, trust):
        """(len - 4) positions x (44 alphabet + 7 other characters): ~20k decisions."""
        original = ticket.parse_qr(good)
        assert decide(good, trust).accepted
        benign = 0
        for i in range(len(good)):
            for char in ticket.B45_ALPHABET + self.OUTSIDE:
                if char != good[i]:
                    text = good[:i] + char + good[i + 1:]
                    benign += self.assert_refused_or_same(text, original, trust, f"{i}:{char!r}")
        assert benign <= 45  # at most a handful: the padding bits of DEFLATE's last byte

    def test_every_bit_of_the_body(self, good, trust):
        original = ticket.parse_qr(good)
        body = body_of(good)
        benign = []
        for i in range(len(body)):
            for mask in (1, 2, 4, 8, 16, 32, 64, 128, 0xFF):
                changed = bytearray(body)
                changed[i] ^= mask
                if self.assert_refused_or_same(text_of(bytes(changed)), original, trust,
                                               f"byte {i} ^ {mask:#x}"):
                    benign.append(i)
        z_len = len(body) - ticket.TAIL_LEN
        assert set(benign) <= {z_len - 1}, "only DEFLATE's last byte may carry padding bits"

    def test_every_truncation_and_extension(self, good, trust):
        for end in range(len(good)):
            assert not decide(good[:end], trust).accepted
        for extra in ticket.B45_ALPHABET:
            assert not decide(good + extra, trust).accepted
            assert not decide(good + extra * 2, trust).accepted


class TestQRSize:
    """Each product's QR fits version 13 at error correction M, in alphanumeric mode."""

    @pytest.mark.parametrize("product", PRODUCTS)
    def test_fits_version_13_m(self, issuer_key, product):
        for _ in range(5):  # device keys differ in how well they compress
            device = keys.new_device_key()
            text = ticket.encode_qr(mint(issuer_key, device, product), device, NOW)
            assert set(text) <= set(ticket.B45_ALPHABET)  # "VX1:" too: QR alphanumeric mode
            code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
            code.add_data(text)
            code.make(fit=True)
            assert code.version <= 13, (product, len(text), code.version)
