"""Helpers the issuer's tests share: checking what the issuer hands out the way a validator
or any JOSE library would."""

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
