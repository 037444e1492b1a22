"""Binding a pass to a phone's key and the credentials it gets, checked with PyJWT."""

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from issuer.platform.models import Account, Credential, DeviceBinding
from issuer_testkit import verify_with_jwks
from shared import b64, clock, keys


def jwk_of(device) -> dict:
    numbers = device.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64.encode(numbers.x.to_bytes(32, "big")),
            "y": b64.encode(numbers.y.to_bytes(32, "big"))}


class TestBind:
    def test_credential_verifies_and_binds_the_device_key(self, api, device):
        api.route("32")
        token, p = api.rider_pass("single", route="32")
        device_key = keys.device_public_compressed(device)
        out = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                     json={"public_key": device_key})
        claims = verify_with_jwks(out["credential"], api.jwks())
        assert claims["cnf"] == {"dpk": device_key}
        assert claims["pid"] == p["id"] and claims["prd"] == "S" and claims["rts"] == ["32"]
        assert (claims["vf"], claims["vu"]) == (p["valid_from"], p["valid_until"])
        assert out["expires"] == claims["exp"] == min(claims["nbf"] + 72 * 3600, p["valid_until"])
        assert "cat" not in claims

    def test_multi_route_and_free_pass_claims(self, api, device):
        for product, fields, expected in [("multi", {}, ("M", None)),
                                          ("free", {"category": "disability"}, ("F", "disability"))]:
            token, p = api.rider_pass(product, **fields)
            out = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                         json={"public_key": keys.device_public_compressed(device)})
            claims = verify_with_jwks(out["credential"], api.jwks())
            assert claims["rts"] == ["*"]
            assert (claims["prd"], claims.get("cat")) == expected

    def test_uncompressed_point_and_jwk_are_accepted(self, api, device):
        token, p = api.rider_pass()
        compressed = keys.device_public_compressed(device)
        uncompressed = b64.encode(device.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        for sent in (uncompressed, jwk_of(device)):
            out = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                         json={"public_key": sent})
            assert out["device_key"] == compressed
            assert verify_with_jwks(out["credential"], api.jwks())["cnf"]["dpk"] == compressed

    def test_a_new_device_retires_the_old_binding(self, api, session):
        token, p = api.rider_pass()
        old, new = keys.new_device_key(), keys.new_device_key()
        for device in (old, new):
            api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                   json={"public_key": keys.device_public_compressed(device)})
        shown = api.ok("GET", f"/api/passes/{p['id']}", token=token)["device"]
        assert shown["key"] == keys.device_public_compressed(new) and shown["custodial"] is False
        bindings = session.scalars(sa.select(DeviceBinding).order_by(DeviceBinding.id)).all()
        assert [b.device_key for b in bindings] == [keys.device_public_compressed(d)
                                                    for d in (old, new)]
        assert bindings[0].retired_at is not None and bindings[1].retired_at is None

    def test_refresh_gives_a_new_credential_for_the_same_device(self, api, device, session):
        token, p = api.rider_pass()
        first = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                       json={"public_key": keys.device_public_compressed(device)})
        second = api.ok("POST", f"/api/passes/{p['id']}/credential", token=token)
        a, b = (verify_with_jwks(x["credential"], api.jwks()) for x in (first, second))
        assert a["jti"] != b["jti"] and a["cnf"] == b["cnf"]
        logged = session.scalars(sa.select(Credential.jti).order_by(Credential.nbf)).all()
        assert set(logged) == {a["jti"], b["jti"]}
        assert api.ok("GET", f"/api/passes/{p['id']}")["credentials_until"] == b["exp"]

    def test_refresh_without_a_device_is_409(self, api):
        token, p = api.rider_pass()
        response = api.call("POST", f"/api/passes/{p['id']}/credential", token=token)
        assert response.status_code == 409
        assert "not bound to a device" in response.get_json()["error"]

    def test_a_pass_of_a_later_month_gets_a_credential_now(self, api, device):
        """Bought ahead: the credential starts now, the pass's own validity says when it may
        ride, and the credential never outlives the pass."""
        year = clock.hanoi_month(clock.now())[0] + 1
        token, p = api.rider_pass(month=f"{year}-01")
        out = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                     json={"public_key": keys.device_public_compressed(device)})
        claims = verify_with_jwks(out["credential"], api.jwks())
        assert claims["vf"] == p["valid_from"] > claims["nbf"]


@pytest.mark.parametrize(("body", "message"), [
    ({"public_key": "not-a-key"}, "public_key must be a P-256 public key"),
    ({"public_key": b64.encode(b"\x02" + b"\xff" * 32)}, "public_key must be a P-256 public key"),
    ({"public_key": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}, "P-256 public key"),
    ({"public_key": {"kty": "EC", "crv": "P-256"}}, "P-256 public key"),
    ({"public_key": 12}, "must be a base64url string or a JWK object"),
    ({}, "field 'public_key' is required"),
])
def test_bad_device_key_is_400_and_binds_nothing(api, session, body, message):
    token, p = api.rider_pass()
    response = api.call("POST", f"/api/passes/{p['id']}/device", token=token, json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert session.scalar(sa.select(sa.func.count()).select_from(DeviceBinding)) == 0


def test_revoked_pass_gets_no_credential(api, device):
    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "reported stolen"})
    for path, body in (("device", {"public_key": keys.device_public_compressed(device)}),
                       ("credential", None), ("custodial", None)):
        response = api.call("POST", f"/api/passes/{p['id']}/{path}", token=token, json=body)
        assert response.status_code == 409
        assert "is revoked" in response.get_json()["error"]


def test_a_pass_whose_holder_is_not_level_2_gets_no_credential(api, device, session):
    """A pass needs a level-2 account (every product: none names another level). Should the
    holder's account stand at level 1 (moved there in the database), no phone is bound, no
    credential refreshed and no custodial QR made for the pass."""
    token, p = api.rider_pass("multi")
    custodial_token, custodial = api.rider_pass("multi")
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    api.ok("POST", f"/api/passes/{custodial['id']}/custodial", token=custodial_token)
    session.execute(sa.update(Account).values(identity_level=1))
    session.commit()
    attempts = {
        "bind": api.call("POST", f"/api/passes/{p['id']}/device", token=token,
                         json={"public_key": keys.device_public_compressed(device)}),
        "refresh": api.call("POST", f"/api/passes/{p['id']}/credential", token=token),
        "custodial": api.call("GET", f"/api/passes/{custodial['id']}/qr", token=custodial_token),
    }
    for what, response in attempts.items():
        assert response.status_code == 403, (what, response.get_json())
        assert "level-2" in response.get_json()["error"], what
