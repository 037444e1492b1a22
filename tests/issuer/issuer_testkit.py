"""Helpers the issuer's tests share: checking what the issuer hands out the way a validator
or any JOSE library would."""

import hashlib
import hmac
import time
from pathlib import Path

import jwt

from shared import keys, ticket

# `vexe pass qr`: an operator taking a rider's QR, which needs a reason for the audit log.
QR = ("pass", "qr", "--reason", "printed at the counter")


def verify_with_jwks(credential: str, jwks: dict) -> dict:
    """Verify a credential with PyJWT and the published JWKS; KeyError for an unknown kid."""
    kid = jwt.get_unverified_header(credential)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(credential, key.key, algorithms=["EdDSA"])


def verify_qr(text: str, jwks: dict, now: float) -> tuple[ticket.ParsedQR, ticket.Claims]:
    """Both signatures of a QR text, as the validator checks them."""
    parsed = ticket.parse_qr(text)
    claims = ticket.verify_credential(parsed, keys.TrustList.from_jwks(jwks), now)
    ticket.verify_proof(parsed, claims)
    return parsed, claims


def keys_before_the_split(secret: str) -> dict[str, str]:
    """The settings an installation from before the three keys stands for, written out as the
    previous version computed them (not by issuer.platform.keyring): its one Fernet key sealed the
    private keys, keyed the national-ID hashes with HMAC(secret, "vexe national id v1") and
    signed cookies with HMAC(secret, "vexe web session v1")."""
    def derived(label: bytes) -> str:
        return hmac.new(secret.encode("ascii"), label, hashlib.sha256).hexdigest()

    return {"VEXE_SEALING_KEY": secret,
            "VEXE_NATIONAL_ID_KEY": derived(b"vexe national id v1"),
            "VEXE_COOKIE_KEY": derived(b"vexe web session v1")}


def leave_only_the_old_secret_file(data_dir: Path, secret: str) -> None:
    """The data directory as the previous version left it: ``secret.key``, owner-only."""
    path = data_dir / "secret.key"
    path.write_text(secret + "\n")
    path.chmod(0o600)


def assert_passes_still_verify(client, phone: dict, phone_token: str, custodial: dict,
                               custodial_token: str) -> dict:
    """A phone's pass gets a credential and a custodial pass its QR, each verified with the
    issuer's published keys, as a validator would: the signing keys work. The keys (JWKS)."""
    jwks = client.get("/.well-known/jwks.json").get_json()
    issued = client.post(f"/api/passes/{phone['id']}/credential", json={},
                         headers={"Authorization": f"Bearer {phone_token}"})
    assert issued.status_code in (200, 201), issued.get_json()
    verify_with_jwks(issued.get_json()["credential"], jwks)
    qr = client.get(f"/api/passes/{custodial['id']}/qr",
                    headers={"Authorization": f"Bearer {custodial_token}"})
    verify_qr(qr.get_data(as_text=True), jwks, time.time())
    return jwks
