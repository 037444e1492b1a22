"""No private key, secret key or operator token ever leaves the issuer, over HTTP or on the
command line; a rider token is shown once, when its account is made."""

import base64
import json

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from issuer.platform import vault
from issuer.platform.models import DeviceBinding, SigningKey
from issuer_testkit import QR
from shared import keys


def forms(raw: bytes) -> list[str]:
    """The ways a secret's bytes could leak into text."""
    return [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def secrets_in(session, config) -> list[str]:
    found = [config["SEALING_KEY"], config["NATIONAL_ID_KEY"], config["COOKIE_KEY"],
             config["OPERATOR_TOKEN"], "PRIVATE KEY"]
    for row in session.scalars(sa.select(SigningKey)):
        pem = vault.unseal(config["SEALING_KEY"], row.sealed_private_key)
        raw = keys.load_private_pem(pem).private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        found += [row.sealed_private_key, *forms(raw)]
    for row in session.scalars(sa.select(DeviceBinding).where(DeviceBinding.custodial)):
        pem = vault.unseal(config["SEALING_KEY"], row.sealed_private_key)
        scalar = keys.load_device_private_pem(pem).private_numbers().private_value
        found += [row.sealed_private_key, *forms(scalar.to_bytes(32, "big"))]
    return found


def test_nothing_secret_in_any_answer(api, app, cli, session, tmp_path):
    outputs = []

    def http(method, path, **kwargs):
        response = api.call(method, path, **kwargs)
        outputs.append(response.get_data().decode("latin-1"))  # PNGs too
        return response

    def run(*args):
        result = cli.run(*args)
        outputs.extend([result.stdout, result.stderr])
        return result

    http("POST", "/api/routes", json={"code": "32", "name": "Giáp Bát - Nhổn"})
    account = http("POST", "/api/accounts",
                   json={"full_name": "Ngô Bảo Châu", "birth_date": "1972-06-28"}).get_json()
    token = account["rider_token"]
    pid = http("POST", "/api/passes", json={"account_id": account["id"], "product": "single",
                                             "route": "32"}).get_json()["id"]
    http("POST", f"/api/passes/{pid}/custodial", token=token)
    for fmt in ("text", "png", "svg"):
        http("GET", f"/api/passes/{pid}/qr?format={fmt}", token=token)
    http("GET", f"/api/passes/{pid}", token=token)
    http("POST", f"/api/passes/{pid}/credential", token=token)
    http("POST", "/api/keys/rotate")
    http("GET", "/api/keys")
    for path in ("/.well-known/jwks.json", "/denylist.json", "/healthz"):
        http("GET", path, token=None)
    other = json.loads(run("account", "create", "--name", "Lý Thường Kiệt",
                           "--birth-date", "1999-01-01").stdout)
    other_pid = json.loads(run("pass", "issue", other["id"], "--product", "multi").stdout)["id"]
    run(*QR, other_pid, "--png", tmp_path / "x.png")
    for args in (["keys", "list"], ["keys", "jwks"], ["keys", "rotate"], ["pass", "show", pid],
                 ["pass", "revoke", pid, "--reason", "test"], ["pass", "denylist"],
                 ["publish"], ["init"]):
        run(*args)
    http("POST", f"/api/passes/{pid}/revoke", json={"reason": "twice"})

    session.rollback()
    secrets = secrets_in(session, app.config)
    assert len(secrets) == 5 + 3 * 5 + 2 * 5  # three signing keys, two custodial devices
    leaked = [s for s in secrets if any(s in out for out in outputs)]
    assert leaked == []
    assert sum(token in out for out in outputs) == 1
    assert sum(other["rider_token"] in out for out in outputs) == 1
