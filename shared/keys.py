"""Keys: the issuer's Ed25519 signing keys, the trust list (a JWKS), and P-256 device keys.

The trust list is an ordered set of public keys: the issuer signs with its newest key and
validators accept any key in the list for the time the list says it is valid, the shape of
``MultiFernet``. A retired key simply leaves the list.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from shared import b64

P256 = ec.SECP256R1()
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


# -- issuer keys --------------------------------------------------------------------------

def new_signing_key() -> ed25519.Ed25519PrivateKey:
    """A new issuer key whose id does not begin with "-".

    An operator types the id on the command line (``vexe keys retire KID``), where a leading
    "-" reads as an option; one key in 64 would have one, so such keys are drawn again.
    """
    while True:
        key = ed25519.Ed25519PrivateKey.generate()
        if not key_id(key).startswith("-"):
            return key


def raw_public(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> str:
    """A short key id: the first 6 bytes of the SHA-256 of the raw public key, base64url.

    Short because it travels in every QR; derived from the key so it can't be reused by
    another key by mistake.
    """
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _private_key_id(key)
    return _key_id(key)


def _key_id(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> str:
    return b64.encode(hashlib.sha256(raw_public(key)).digest()[:6])


# A signing key's id is asked on every credential it signs; the issuer keeps the key object
# for its process (issuer.passes.signing), so the id is worked out once per key. (Public key
# objects can't be hashed; they are rarely asked.)
_private_key_id = functools.lru_cache(maxsize=16)(_key_id)


def private_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_pem(data: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


@dataclass(frozen=True)
class TrustedKey:
    """One issuer public key and the time span (Unix seconds) in which validators trust it."""

    kid: str
    public: ed25519.Ed25519PublicKey
    not_before: int | None = None
    not_after: int | None = None

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_jwk(self) -> dict:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64.encode(raw_public(self.public)),
               "kid": self.kid, "use": "sig", "alg": "EdDSA"}
        if self.not_before is not None:
            jwk["nbf"] = self.not_before
        if self.not_after is not None:
            jwk["exp"] = self.not_after
        return jwk


class TrustList:
    """The issuer public keys a validator accepts, by ``kid``; loaded from a JWKS."""

    def __init__(self, keys: list[TrustedKey]):
        self._keys = {key.kid: key for key in keys}

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, kid: str, now: float) -> TrustedKey | None:
        """The key for ``kid`` if it is in the list and trusted at ``now``, else None."""
        key = self._keys.get(kid)
        if key is None:
            return None
        if key.not_before is not None and now < key.not_before:
            return None
        if key.not_after is not None and now >= key.not_after:
            return None
        return key

    def to_jwks(self) -> dict:
        return {"keys": [key.to_jwk() for key in self._keys.values()]}

    def dumps(self) -> str:
        return json.dumps(self.to_jwks(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_jwks(cls, jwks: dict | str | bytes) -> "TrustList":
        """Parse a JWKS; ValueError naming the problem for anything that is not one.

        Keys that are not Ed25519 signing keys are refused outright rather than skipped: a
        trust list that says something unexpected is a configuration error to fix.
        """
        if isinstance(jwks, (str, bytes)):
            try:
                jwks = json.loads(jwks)
            except json.JSONDecodeError as exc:
                raise ValueError(f"trust list is not JSON: {exc.msg}") from None
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError('trust list must be a JWKS object with a "keys" list')
        keys = []
        for jwk in jwks["keys"]:
            keys.append(_trusted_key(jwk))
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise ValueError("trust list names the same kid twice")
        return cls(keys)


def _trusted_key(jwk: object) -> TrustedKey:
    if not isinstance(jwk, dict):
        raise ValueError("trust list entry is not an object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or jwk.get("alg", "EdDSA") != "EdDSA":
        raise ValueError(f"trust list key {jwk.get('kid')!r} is not an Ed25519 EdDSA key")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("trust list key without a kid")
    try:
        public = ed25519.Ed25519PublicKey.from_public_bytes(b64.decode(jwk.get("x", "")))
    except ValueError:
        raise ValueError(f"trust list key {kid!r} has a bad x") from None
    for field in ("nbf", "exp"):
        if field in jwk and (type(jwk[field]) is not int):
            raise ValueError(f"trust list key {kid!r}: {field} must be an integer")
    return TrustedKey(kid, public, jwk.get("nbf"), jwk.get("exp"))


# -- device keys (ECDSA P-256, the key type of WebCrypto and phones' secure hardware) -----

def new_device_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(P256)


def device_public_compressed(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The device public key as a SEC1 compressed point (33 bytes), base64url."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return b64.encode(public.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.CompressedPoint))


def load_device_public(text: str) -> ec.EllipticCurvePublicKey:
    """Parse a P-256 public key given as a base64url SEC1 point (compressed or not) or a JWK.

    Phones send the uncompressed point or a JWK (what WebCrypto exports); the credential
    carries the compressed point. ValueError for anything that is not a point on P-256.
    """
    if isinstance(text, dict):
        if text.get("kty") != "EC" or text.get("crv") != "P-256":
            raise ValueError("device key must be an EC P-256 JWK")
        try:
            point = b"\x04" + b64.decode(text["x"]) + b64.decode(text["y"])
        except (KeyError, TypeError):
            raise ValueError("device key JWK needs x and y") from None
    else:
        point = b64.decode(text)
    if len(point) not in (33, 65):
        raise ValueError("device key must be a P-256 point (33 or 65 bytes)")
    return ec.EllipticCurvePublicKey.from_encoded_point(P256, point)


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 signature as raw r||s (64 bytes), as WebCrypto produces."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(message, ECDSA_SHA256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    """Verify a raw r||s P-256 signature. Anything but exactly 64 bytes is refused."""
    if len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r and 0 < s):
        return False
    try:
        public.verify(encode_dss_signature(r, s), message, ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def device_private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_device_private_pem(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != P256.name:
        raise ValueError("not a P-256 private key")
    return key
