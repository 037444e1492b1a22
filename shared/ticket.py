"""The vexe QR format, version 1: an issuer credential (a standard JWS) plus a device proof.

    QR text   = "VX1:" + base45(body)
    body      = Z || S1 (64 bytes) || T (4 bytes, big-endian) || S2 (64 bytes)
    Z         = raw DEFLATE (RFC 1951) with the preset dictionary DICTIONARY, of
                header_json || 0x00 || payload_json
    S1        = Ed25519 signature of base64url(header_json) + "." + base64url(payload_json)
    T         = the proof time, Unix seconds
    S2        = ECDSA P-256/SHA-256 signature, raw r||s, by the device key of
                PROOF_CONTEXT || T || jti

The level-1 credential decodes to the compact JWS base64url(header).base64url(payload).
base64url(S1), which any JOSE library verifies. docs/qr-format.md is the byte-exact
description, with test vectors.
"""

from __future__ import annotations

import functools
import json
import re
import struct
import zlib
from dataclasses import dataclass

import base45
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from shared import b64, keys
from shared.errors import BadProof, BadSignature, Malformed, UnknownKey, UnsupportedVersion
from shared.text import is_safe

VERSION = 1
PREFIX = "VX1:"
_PREFIX_RE = re.compile(r"VX([0-9A-Z]+):")
MAX_QR_TEXT = 1000  # longer texts are refused before anything is decoded
MAX_INFLATED = 1024  # a credential never inflates past this: no decompression bombs
SIG_LEN = 64
TAIL_LEN = SIG_LEN + 4 + SIG_LEN
PROOF_CONTEXT = b"VXP1"
ALGORITHM = "EdDSA"
HEADER_PARAMS = {"alg", "kid", "typ"}

DEFAULT_CREDENTIAL_LIFETIME = 72 * 3600
DEFAULT_ROTATION = 30
DEFAULT_FRESHNESS = 45

# Strings every credential repeats; DEFLATE refers back to them instead of carrying them.
# Part of the format: changing one byte of it is a new version.
DICTIONARY = (
    b'{"alg":"EdDSA","kid":""}\x00{"jti":"","pid":"","prd":"F","cat":"elderly","prd":"M",'
    b'"rts":["*"],"prd":"S","rts":["","nbf":17,"exp":17,"vf":17,"vu":17,"cnf":{"dpk":"'
)

PRODUCTS = {"single": "S", "multi": "M", "free": "F"}
PRODUCT_NAMES = {code: name for name, code in PRODUCTS.items()}
ALL_ROUTES = "*"


@dataclass(frozen=True)
class Claims:
    """The level-1 credential's claims, type-checked."""

    jti: str  # credential id
    pid: str  # pass id
    product: str  # "S" single-route, "M" multi-route, "F" free
    routes: tuple[str, ...]  # route codes, or ("*",) for every route
    category: str | None  # free-pass category
    nbf: int  # credential valid from (inclusive)
    exp: int  # credential valid until (exclusive)
    valid_from: int  # pass valid from (inclusive)
    valid_until: int  # pass valid until (exclusive)
    device_key: str  # base64url compressed P-256 point

    def covers_route(self, route: str) -> bool:
        return ALL_ROUTES in self.routes or route in self.routes

    def summary(self) -> dict:
        """What a screen or an operator may see: the pass, never the person."""
        out = {"pass_id": self.pid, "product": PRODUCT_NAMES[self.product],
               "routes": list(self.routes), "valid_from": self.valid_from,
               "valid_until": self.valid_until, "credential_expires": self.exp}
        if self.category:
            out["category"] = self.category
        return out


@dataclass(frozen=True)
class ParsedQR:
    """A QR text taken apart, nothing verified yet."""

    header_json: bytes
    payload_json: bytes
    issuer_signature: bytes
    proof_time: int
    proof_signature: bytes

    @property
    def signing_input(self) -> bytes:
        return (b64.encode(self.header_json) + "." + b64.encode(self.payload_json)).encode("ascii")

    @property
    def jws(self) -> str:
        """The level-1 credential as a standard compact JWS."""
        return self.signing_input.decode("ascii") + "." + b64.encode(self.issuer_signature)


# -- issuing -------------------------------------------------------------------------------

def mint_credential(signing_key: ed25519.Ed25519PrivateKey, *, jti: str, pass_id: str,
                    product: str, routes: list[str], valid_from: int, valid_until: int,
                    device_key: str, now: int, lifetime: int = DEFAULT_CREDENTIAL_LIFETIME,
                    category: str | None = None) -> str:
    """Sign a level-1 credential (compact JWS) valid from ``now`` for ``lifetime`` seconds.

    The credential never outlives the pass: ``exp`` is capped at ``valid_until``.
    """
    if product not in PRODUCT_NAMES:
        raise ValueError(f"unknown product code {product!r}")
    payload = {"jti": jti, "pid": pass_id, "prd": product, "rts": list(routes)}
    if category:
        payload["cat"] = category
    payload.update({"nbf": int(now), "exp": int(min(now + lifetime, valid_until)),
                    "vf": int(valid_from), "vu": int(valid_until),
                    "cnf": {"dpk": _compressed(device_key)}})
    return jwt.encode(payload, signing_key, algorithm=ALGORITHM,
                      headers={"kid": keys.key_id(signing_key), "typ": None})


@functools.lru_cache(maxsize=4096)  # a phone's key is the same at each of its refreshes
def _compressed(device_key: str) -> str:
    return keys.device_public_compressed(keys.load_device_public(device_key))


def proof_message(proof_time: int, jti: str) -> bytes:
    """The bytes the device signs: context, proof time, credential id."""
    return PROOF_CONTEXT + struct.pack(">I", proof_time) + jti.encode("utf-8")


def encode_qr(credential: str, device_key: ec.EllipticCurvePrivateKey, at: float) -> str:
    """The QR text for ``credential`` with a device proof made at Unix time ``at``."""
    header_b64, payload_b64, sig_b64 = credential.split(".")
    header_json, payload_json = b64.decode(header_b64), b64.decode(payload_b64)
    jti = json.loads(payload_json)["jti"]
    proof_time = int(at)
    proof = keys.sign_raw(device_key, proof_message(proof_time, jti))
    return assemble_qr(header_json, payload_json, b64.decode(sig_b64), proof_time, proof)


def assemble_qr(header_json: bytes, payload_json: bytes, issuer_signature: bytes,
                proof_time: int, proof_signature: bytes) -> str:
    """Pack the parts of a QR into its text (no signing, no checks: tests build bad ones)."""
    body = (_deflate(header_json, payload_json) + issuer_signature
            + struct.pack(">I", proof_time) + proof_signature)
    return PREFIX + base45.b45encode(body).decode("ascii")


def body_head(credential: str) -> bytes:
    """Z || S1: the part of the QR body that stays the same while ``credential`` lives.

    A phone appends T and its proof to it and base45-encodes; handing it this saves the
    phone a DEFLATE with a preset dictionary, which browsers do not offer.
    """
    header_b64, payload_b64, sig_b64 = credential.split(".")
    return _deflate(b64.decode(header_b64), b64.decode(payload_b64)) + b64.decode(sig_b64)


def _deflate(header_json: bytes, payload_json: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=DICTIONARY)
    return packer.compress(header_json + b"\x00" + payload_json) + packer.flush()


# -- reading -------------------------------------------------------------------------------

def parse_qr(text: str) -> ParsedQR:
    """Take a QR text apart. Raises Malformed or UnsupportedVersion; never anything else."""
    if not isinstance(text, str) or len(text) > MAX_QR_TEXT:
        raise Malformed("QR text missing or too long")
    if not text.startswith(PREFIX):
        match = _PREFIX_RE.match(text)
        if match and match.group(1) != str(VERSION):
            raise UnsupportedVersion(f"QR format version {match.group(1)}")
        raise Malformed("QR text has no vexe prefix")
    body = _b45decode(text[len(PREFIX):])
    if len(body) <= TAIL_LEN:
        raise Malformed("QR text too short")
    z, tail = body[:-TAIL_LEN], body[-TAIL_LEN:]
    inflated = _inflate(z)
    header_json, sep, payload_json = inflated.partition(b"\x00")
    if not sep:
        raise Malformed("credential has no header separator")
    (proof_time,) = struct.unpack(">I", tail[SIG_LEN:SIG_LEN + 4])
    return ParsedQR(header_json, payload_json, tail[:SIG_LEN], proof_time, tail[SIG_LEN + 4:])


B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_DIGITS = bytes(B45_ALPHABET.find(chr(c)) % 256 for c in range(256))  # 255: not base45


def _b45decode(text: str) -> bytes:
    """Strict RFC 9285 base45: every character in the alphabet, every group in range.

    Stricter than the base45 package, which drops trailing newlines (not part of the
    format), and about 2.5 times as fast, as every scan decodes a QR: each 3-character group
    c d e is c + 45*d + 2025*e, computed for all groups at once in one big integer with a
    24-bit lane per group (the largest sum, 91124, never carries into the next lane).
    """
    try:
        digits = text.encode("ascii").translate(_B45_DIGITS)
    except UnicodeEncodeError:
        raise Malformed("QR text is not base45") from None
    size = len(digits)
    if size % 3 == 1 or 255 in digits:
        raise Malformed("QR text is not base45")
    full = size - size % 3
    groups = full // 3
    lanes = bytearray(3 * groups)
    total = 0
    for weight, start in ((1, 0), (45, 1), (2025, 2)):
        lanes[2::3] = digits[start:full:3]
        total += weight * int.from_bytes(lanes, "big")
    words = total.to_bytes(3 * groups, "big")
    if any(words[0::3]):  # a group over 0xFFFF
        raise Malformed("QR text is not base45")
    body = bytearray(2 * groups)
    body[0::2] = words[1::3]
    body[1::2] = words[2::3]
    if size % 3:
        last = digits[-2] + 45 * digits[-1]
        if last > 0xFF:
            raise Malformed("QR text is not base45")
        body.append(last)
    return bytes(body)


def _inflate(z: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15, zdict=DICTIONARY)
    try:
        data = unpacker.decompress(z, MAX_INFLATED)
    except zlib.error:
        raise Malformed("credential is not valid DEFLATE data") from None
    if not unpacker.eof or unpacker.unconsumed_tail or unpacker.unused_data:
        raise Malformed("credential DEFLATE data is truncated, too large or followed by junk")
    return data


def verify_credential(parsed: ParsedQR, trust: keys.TrustList, now: float) -> Claims:
    """Check the issuer's signature and return the claims.

    Fails closed: the header must name EdDSA and a kid trusted at ``now``; nothing in the
    header chooses how the signature is checked.
    """
    header = _json_object(parsed.header_json, "header")
    if set(header) - HEADER_PARAMS or header.get("typ", "JWT") != "JWT":
        raise Malformed("credential header has unexpected parameters")
    if header.get("alg") != ALGORITHM:
        raise BadSignature(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise Malformed("credential header has no kid")
    key = trust.get(kid, now)
    if key is None:
        raise UnknownKey(f"key {kid!r} is not trusted")
    if not key.verify(parsed.issuer_signature, parsed.signing_input):
        raise BadSignature("issuer signature does not verify")
    return parse_claims(_json_object(parsed.payload_json, "payload"))


def verify_proof(parsed: ParsedQR, claims: Claims) -> None:
    """Check the device's signature over the proof time and the credential id."""
    try:
        public = keys.load_device_public(claims.device_key)
    except ValueError:
        raise BadProof("credential binds no usable device key") from None
    message = proof_message(parsed.proof_time, claims.jti)
    if not keys.verify_raw(public, parsed.proof_signature, message):
        raise BadProof("device proof does not verify")


class _DuplicateMember(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    # JSON parsers disagree on which of two equal names wins: a credential naming "pid"
    # or "kid" twice could mean one thing here and another to a different validator.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateMember("duplicate member")
    return value


def _json_object(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed(f"credential {what} is not JSON, or names a member twice") from None
    if not isinstance(value, dict):
        raise Malformed(f"credential {what} is not a JSON object")
    return value


def _str(value: object, name: str, max_len: int = 64) -> str:
    # JSON can spell a lone surrogate ("\ud800") or a NUL ("\u0000"), which no UTF-8
    # proof message, journal, screen or database can take: refused here, once.
    if not isinstance(value, str) or not 0 < len(value) <= max_len or not is_safe(value):
        raise Malformed(f"claim {name} must be a short string without control characters")
    return value


def _int(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value < 2**40:
        raise Malformed(f"claim {name} must be an integer time")
    return value


def parse_claims(payload: dict) -> Claims:
    """Type-check the claims; Malformed names the first one that is wrong."""
    product = payload.get("prd")
    if not isinstance(product, str) or product not in PRODUCT_NAMES:  # a list is unhashable
        raise Malformed("claim prd must be S, M or F")
    routes = payload.get("rts")
    if not isinstance(routes, list) or not routes or len(routes) > 64:
        raise Malformed("claim rts must be a non-empty list")
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict):
        raise Malformed("claim cnf must be an object")
    category = payload.get("cat")
    return Claims(
        jti=_str(payload.get("jti"), "jti"),
        pid=_str(payload.get("pid"), "pid"),
        product=product,
        routes=tuple(_str(route, "rts", 16) for route in routes),
        category=None if category is None else _str(category, "cat"),
        nbf=_int(payload.get("nbf"), "nbf"),
        exp=_int(payload.get("exp"), "exp"),
        valid_from=_int(payload.get("vf"), "vf"),
        valid_until=_int(payload.get("vu"), "vu"),
        device_key=_str(cnf.get("dpk"), "cnf.dpk", 128),
    )
