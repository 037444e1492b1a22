"""Write the QR format v1 test vectors (tests/vectors/*.json).

    .venv/bin/python tests/vectors/make_vectors.py

Everything is fixed: the issuer's Ed25519 seeds, the device's P-256 private scalars, the
pass ids and every time. Ed25519 signatures are deterministic; the device proofs are
signed with deterministic ECDSA (RFC 6979), so running this again writes the same bytes on
any system whose OpenSSL supports it (3.2 and later). A phone signs with a random nonce;
both kinds verify alike. The files are the reference: tests load them, never regenerate
them. Change them only with a new format version (or new cases), and say why.

All keys here are test keys, published on purpose. Never trust them in production.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

import base45
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shared import b64, clock, keys, reasons, ticket

HERE = Path(__file__).resolve().parent

NOV = clock.month_bounds(2026, 11)  # 2026-10-31T17:00Z .. 2026-11-30T17:00Z
DEC = clock.month_bounds(2026, 12)
NOW = 1795136400  # 2026-11-20T01:00:00Z, 08:00 in Hanoi: the morning of the vectors
ISSUED = NOW - 3600  # when the credentials were minted (or refreshed)
OLD_KEY_RETIRED = 1795219200  # 2026-11-21T00:00:00Z: the old issuer key's "exp" in the JWKS
VEHICLE = "29B-123.45"
OTHER_VEHICLE = "29B-678.90"

PASSES = {
    # name: (pid, jti, product, routes, category, month)
    "single": ("7K3M9QX2TB", "qJ3aT0Bk", "S", ["32"], None, NOV),
    "multi": ("M4RN8ZK1QD", "mU7tX2pA", "M", ["*"], None, NOV),
    "free": ("F2H6W9C3EV", "fR5dK8sN", "F", ["*"], "elderly", NOV),
    "revoked": ("R9V4J7T2XA", "rV4jT7x2", "S", ["32"], None, NOV),
    "december": ("D3C8M5B2NQ", "dC8m5B2n", "S", ["32"], None, DEC),
    "moved": ("P5T8N2K6WH", "pT8n2K6w", "S", ["32"], None, NOV),
}


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"vexe test vectors: {label}".encode()).digest()


def issuer_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed(label))


def device_key(label: str) -> ec.EllipticCurvePrivateKey:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return ec.derive_private_key(int.from_bytes(_seed(label), "big") % order, keys.P256)


CURRENT = issuer_key("issuer key 2026-11")
OLD = issuer_key("issuer key 2026-08")
UNTRUSTED = issuer_key("a key nobody trusts")
DEVICE = device_key("rider phone")
THIEF = device_key("another phone")
NEW_PHONE = device_key("the rider's new phone")


def trust_list() -> keys.TrustList:
    return keys.TrustList([
        keys.TrustedKey(keys.key_id(CURRENT), CURRENT.public_key()),
        keys.TrustedKey(keys.key_id(OLD), OLD.public_key(), not_after=OLD_KEY_RETIRED),
    ])


def denylist() -> dict:
    """One pass revoked; one pass moved to a new phone (only that phone's key rides)."""
    until = ISSUED + ticket.DEFAULT_CREDENTIAL_LIFETIME
    return {"issued_at": NOW - 600,
            "entries": [{"pid": PASSES["moved"][0], "since": NOW - 1200, "until": until,
                         "device": keys.device_public_compressed(NEW_PHONE)},
                        {"pid": PASSES["revoked"][0], "since": NOW - 1800, "until": until}]}


# -- minting -------------------------------------------------------------------------------

def sign_proof(device: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """Raw r||s like keys.sign_raw, with an RFC 6979 nonce so the vectors are reproducible."""
    der = device.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def credential(name: str, *, key=CURRENT, issued=ISSUED, device=DEVICE) -> str:
    pid, jti, product, routes, category, month = PASSES[name]
    return ticket.mint_credential(
        key, jti=jti, pass_id=pid, product=product, routes=routes, valid_from=month[0],
        valid_until=month[1], device_key=keys.device_public_compressed(device), now=issued,
        category=category)


def qr(cred: str, at: int, device=DEVICE) -> str:
    header_b64, payload_b64, sig_b64 = cred.split(".")
    payload_json = b64.decode(payload_b64)
    proof = sign_proof(device, ticket.proof_message(at, json.loads(payload_json)["jti"]))
    return ticket.assemble_qr(b64.decode(header_b64), payload_json, b64.decode(sig_b64), at,
                              proof)


def forged(header: dict, payload: dict, at: int, *, key=CURRENT,
           signature: bytes | None = None) -> str:
    """A QR from any header and payload, signed by ``key`` unless a signature is given.

    JSON escapes what is not ASCII (``"\\ud800"`` for a lone surrogate); a ``jti`` that
    cannot be UTF-8 gets no proof, as no device could sign it.
    """
    header_json = json.dumps(header, separators=(",", ":")).encode()
    payload_json = json.dumps(payload, separators=(",", ":")).encode()
    if signature is None:
        signature = key.sign(f"{b64.encode(header_json)}.{b64.encode(payload_json)}".encode())
    try:
        proof = sign_proof(DEVICE, ticket.proof_message(at, payload["jti"]))
    except UnicodeEncodeError:
        proof = bytes(64)
    return ticket.assemble_qr(header_json, payload_json, signature, at, proof)


def parts(cred: str) -> tuple[dict, dict]:
    header_b64, payload_b64, _ = cred.split(".")
    return json.loads(b64.decode(header_b64)), json.loads(b64.decode(payload_b64))


def body_of(text: str) -> bytes:
    return base45.b45decode(text[4:])


def text_of(body: bytes) -> str:
    return "VX1:" + base45.b45encode(body).decode("ascii")


# -- the cases -----------------------------------------------------------------------------

def case(name, description, text, expected, *, route="32", vehicle=VEHICLE, now=NOW + 2):
    return {"name": name, "description": description, "qr": text, "route": route,
            "vehicle": vehicle, "now": now, "now_utc": _utc(now),
            "expected": {"decision": "accept" if expected == "ok" else "refuse",
                         "reason": expected}}


def _utc(at: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cases() -> list[dict]:
    single, multi, free = credential("single"), credential("multi"), credential("free")
    good = qr(single, NOW)
    header, payload = parts(single)
    z, tail = body_of(good)[:-132], body_of(good)[-132:]
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=ticket.DICTIONARY)
    bomb = packer.compress(b'{"alg":"EdDSA"}\x00' + b" " * 100_000) + packer.flush()
    hs256_header = {"alg": "HS256", "kid": header["kid"]}
    mac = hmac.HMAC(keys.raw_public(CURRENT), hashes.SHA256())
    mac.update(f"{b64.encode(_json(hs256_header))}.{b64.encode(_json(payload))}".encode())
    boundary = NOV[1] - 2 * 86400  # credentials refreshed two days before the month ends

    return [
        # -- accepted ---------------------------------------------------------------------
        case("accept-single", "Monthly single-route pass (route 32) on route 32.", good, "ok"),
        case("accept-multi", "Monthly multi-route pass on route E10.", qr(multi, NOW), "ok",
             route="E10"),
        case("accept-free", "Free pass (elderly) on route 01.", qr(free, NOW), "ok", route="01"),
        case("accept-old-key", "Credential signed by the old issuer key, still in the trust "
             "list until its exp.", qr(credential("single", key=OLD), NOW), "ok"),
        case("accept-proof-45s-old", "A proof exactly 45 s old is still fresh.", good, "ok",
             now=NOW + 45),
        case("accept-proof-45s-ahead", "A proof 45 s ahead of the validator clock (phone clock "
             "fast) is still fresh.", qr(single, NOW + 45), "ok", now=NOW),
        case("accept-last-second-of-november", "November pass at 2026-11-30T16:59:59Z, "
             "23:59:59 in Hanoi.", qr(credential("single", issued=boundary), NOV[1] - 1), "ok",
             now=NOV[1] - 1),
        case("accept-december-at-midnight", "December pass at 2026-11-30T17:00:00Z, 00:00 on "
             "1 December in Hanoi.", qr(credential("december", issued=boundary), DEC[0]), "ok",
             now=DEC[0]),
        # -- malformed --------------------------------------------------------------------
        case("malformed-not-base45", "A lowercase letter is not in the base45 alphabet.",
             good[:40] + "a" + good[41:], "malformed"),
        case("malformed-trailing-newline", "A trailing newline is not part of the text "
             "(a scanner's line end must be stripped before the check).", good + "\n",
             "malformed"),
        case("malformed-truncated", "The last three characters (two bytes) are missing.",
             good[:-3], "malformed"),
        case("malformed-trailing-junk", "One byte after the end of the DEFLATE stream.",
             text_of(z + b"\x00" + tail), "malformed"),
        case("malformed-decompression-bomb", "A DEFLATE stream that inflates past 1024 bytes.",
             text_of(bomb + tail), "malformed"),
        case("malformed-too-long", "1002 characters: over the 1000-character limit.",
             "VX1:" + "0" * 998, "malformed"),
        case("malformed-crit-header", "Header with a crit parameter, correctly signed.",
             forged({**header, "crit": ["exp"]}, payload, NOW), "malformed"),
        case("malformed-claim-type", "nbf as a string, correctly signed.",
             forged(header, {**payload, "nbf": str(payload["nbf"])}, NOW), "malformed"),
        case("malformed-claim-lone-surrogate", 'pid "\\ud800" (JSON escape of a lone '
             "surrogate, which no UTF-8 text can hold), correctly signed.",
             forged(header, {**payload, "pid": "\ud800"}, NOW), "malformed"),
        case("malformed-claim-lone-surrogate-jti", 'jti "qJ3a\\udfff" (a lone surrogate: '
             "no device can sign it), correctly signed.",
             forged(header, {**payload, "jti": "qJ3a\udfff"}, NOW), "malformed"),
        case("malformed-claim-control-character", 'rts ["3\\u00002"] (a NUL in a route), '
             "correctly signed.", forged(header, {**payload, "rts": ["3\u00002"]}, NOW),
             "malformed"),
        case("unsupported-version", "Prefix VX2: names a format this validator does not read.",
             "VX2:" + good[4:], "unsupported_version"),
        # -- keys and signatures ----------------------------------------------------------
        case("unknown-key", "Credential signed by a key that is not in the trust list.",
             qr(credential("single", key=UNTRUSTED), NOW), "unknown_key"),
        case("unknown-key-retired", "Credential signed by the old key, scanned after the key's "
             "exp in the trust list (2026-11-21T00:00:00Z).",
             qr(credential("single", key=OLD), OLD_KEY_RETIRED), "unknown_key",
             now=OLD_KEY_RETIRED),
        case("bad-signature-tampered", "The single-route credential with rts changed to "
             '["*"] after signing.',
             forged(header, {**payload, "rts": ["*"]}, NOW,
                    signature=b64.decode(single.split(".")[2])),
             "bad_signature", route="E10"),
        case("bad-signature-alg-none", 'Header alg "none", zero signature.',
             forged({**header, "alg": "none"}, payload, NOW, signature=bytes(64)),
             "bad_signature"),
        case("bad-signature-hs256", "HS256 with the issuer's public key as the HMAC secret, "
             "padded to 64 bytes.",
             forged(hs256_header, payload, NOW, signature=mac.finalize().ljust(64, b"\x00")),
             "bad_signature"),
        case("bad-proof", "The rider's credential with a proof signed by another phone's key.",
             qr(single, NOW, device=THIEF), "bad_proof"),
        # -- rules ------------------------------------------------------------------------
        case("revoked", "A pass on the denylist.", qr(credential("revoked"), NOW), "revoked"),
        case("device-replaced", "A pass moved to a new phone, shown on the old one: the "
             "denylist names the one device key it accepts now.",
             qr(credential("moved"), NOW), "device_replaced"),
        case("accept-new-phone", "The same moved pass on the new phone the denylist names.",
             qr(credential("moved", device=NEW_PHONE), NOW, device=NEW_PHONE), "ok"),
        case("not-yet-valid", "Credential nbf one hour after the validator clock (beyond the "
             "45 s skew).", qr(credential("single", issued=NOW + 3600), NOW), "not_yet_valid"),
        case("expired", "Credential minted 72 h before: its exp has passed, mid-month.",
             qr(credential("single", issued=NOW - ticket.DEFAULT_CREDENTIAL_LIFETIME), NOW),
             "expired"),
        case("outside-validity-december-pass", "A December pass scanned in November.",
             qr(credential("december"), NOW), "outside_validity"),
        case("outside-validity-month-end", "November pass at 2026-11-30T17:00:00Z, 00:00 on "
             "1 December in Hanoi.", qr(credential("single", issued=boundary), NOV[1]),
             "outside_validity", now=NOV[1]),
        case("wrong-route", "Single-route pass for route 32 scanned on route 33.", good,
             "wrong_route", route="33"),
        case("stale-proof", "The same QR shown 46 s after its proof time (a screenshot).", good,
             "stale_proof", now=NOW + 46),
        case("stale-proof-future", "A proof 46 s ahead of the validator clock.",
             qr(single, NOW + 46), "stale_proof", now=NOW),
    ]


def _json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sequences() -> list[dict]:
    """Scans on one validator in order; each starts from an empty journal."""
    single = credential("single")

    def scan(text, now, expected, vehicle=VEHICLE, route="32"):
        return {"qr": text, "route": route, "vehicle": vehicle, "now": now, "now_utc": _utc(now),
                "expected": {"decision": "accept" if expected == "ok" else "refuse",
                             "reason": expected}}

    first = qr(single, NOW)
    return [
        {"name": "replayed",
         "description": "The same QR text scanned twice (a copied screen): the second scan, "
                        "still fresh, is refused on any vehicle.",
         "scans": [scan(first, NOW + 1, "ok"),
                   scan(first, NOW + 10, "replayed", vehicle=OTHER_VEHICLE)]},
        {"name": "passback",
         "description": "A fresh QR of the same pass on the same vehicle within 600 s is "
                        "refused; on another vehicle it is a ride; 601 s after the first "
                        "ride it is a ride again.",
         "scans": [scan(first, NOW + 1, "ok"),
                   scan(qr(single, NOW + 30), NOW + 31, "passback"),
                   scan(qr(single, NOW + 60), NOW + 61, "ok", vehicle=OTHER_VEHICLE),
                   scan(qr(single, NOW + 600), NOW + 601, "passback"),
                   scan(qr(single, NOW + 602), NOW + 602, "ok")]},
        {"name": "refusals-are-not-rides",
         "description": "A refused scan (wrong route) leaves nothing to replay or pass back.",
         "scans": [scan(first, NOW + 1, "wrong_route", route="33"),
                   scan(first, NOW + 2, "ok")]},
    ]


def steps() -> dict:
    """Every intermediate value of accept-single, to debug a decoder step by step."""
    single = credential("single")
    text = qr(single, NOW)
    body = body_of(text)
    z, s1, t, s2 = body[:-132], body[-132:-68], body[-68:-64], body[-64:]
    parsed = ticket.parse_qr(text)
    jti = json.loads(parsed.payload_json)["jti"]
    message = ticket.proof_message(parsed.proof_time, jti)
    return {
        "case": "accept-single",
        "qr": text,
        "qr_length": len(text),
        "base45_text": text[4:],
        "body_hex": body.hex(),
        "body_length": len(body),
        "z_hex": z.hex(),
        "z_length": len(z),
        "inflated_hex": zlib.decompressobj(-15, zdict=ticket.DICTIONARY).decompress(z).hex(),
        "header_json": parsed.header_json.decode(),
        "payload_json": parsed.payload_json.decode(),
        "s1_hex": s1.hex(),
        "t_hex": t.hex(),
        "t": struct.unpack(">I", t)[0],
        "s2_hex": s2.hex(),
        "signing_input": parsed.signing_input.decode(),
        "jws": parsed.jws,
        "kid": json.loads(parsed.header_json)["kid"],
        "issuer_public_x": b64.encode(keys.raw_public(CURRENT)),
        "proof_message_hex": message.hex(),
        "device_public_compressed": json.loads(parsed.payload_json)["cnf"]["dpk"],
        "device_public_uncompressed_hex": DEVICE.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex(),
        "s2_r_hex": s2[:32].hex(),
        "s2_s_hex": s2[32:].hex(),
    }


def key_file() -> dict:
    def issuer(key, note):
        return {"kid": keys.key_id(key), "note": note,
                "seed_hex": key.private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()).hex(),
                "public_x": b64.encode(keys.raw_public(key))}

    def device(key, note):
        numbers = key.public_key().public_numbers()
        return {"note": note,
                "private_scalar_hex": f"{key.private_numbers().private_value:064x}",
                "private_pem": keys.device_private_pem(key).decode(),
                "public_compressed": keys.device_public_compressed(key),
                "public_jwk": {"kty": "EC", "crv": "P-256",
                               "x": b64.encode(numbers.x.to_bytes(32, "big")),
                               "y": b64.encode(numbers.y.to_bytes(32, "big"))}}

    return {
        "warning": "Test keys, published on purpose. Never trust them in production.",
        "issuer": {
            "current": issuer(CURRENT, "signs every credential unless a case says otherwise"),
            "old": issuer(OLD, f"in the trust list until its exp, {_utc(OLD_KEY_RETIRED)}"),
            "untrusted": issuer(UNTRUSTED, "in no trust list"),
        },
        "device": {
            "rider": device(DEVICE, "the phone every credential binds (cnf.dpk)"),
            "thief": device(THIEF, "another phone: its proofs are bad_proof"),
            "new_phone": device(NEW_PHONE, "the phone pass P5T8N2K6WH moved to (denylist)"),
        },
    }


def files() -> dict[str, str]:
    """File name -> exact content."""
    def dump(value) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"

    return {
        "keys.json": dump(key_file()),
        "jwks.json": dump(trust_list().to_jwks()),
        "denylist.json": dump(denylist()),
        "cases.json": dump({
            "format": "vexe QR v1",
            "trust_list": "jwks.json", "denylist": "denylist.json",
            "freshness": ticket.DEFAULT_FRESHNESS, "passback": 600,
            "messages": {code: reasons.message(code) for code in reasons.REASONS},
            "cases": cases()}),
        "sequences.json": dump({
            "format": "vexe QR v1",
            "trust_list": "jwks.json", "denylist": "denylist.json",
            "note": "Each sequence starts from an empty journal; every accepted scan is "
                    "remembered (pass id, proof time, vehicle, scan time) for the next ones.",
            "sequences": sequences()}),
        "steps.json": dump(steps()),
    }


def main(out: Path = HERE) -> None:
    for name, content in files().items():
        (out / name).write_text(content, encoding="utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
