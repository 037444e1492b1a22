"""Signing key rotation: the new key signs, old credentials keep verifying until their key is
retired, and the trust list in Redis follows."""

import json
import time

import jwt
import pytest
import redis

from shared import b64, keys, redis_keys, ticket
from issuer_testkit import QR, verify_qr, verify_with_jwks


def bind(api, token, p):
    return api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                  json={"public_key": keys.device_public_compressed(keys.new_device_key())})


def kid_of(credential: str) -> str:
    return jwt.get_unverified_header(credential)["kid"]


def published_jwks(redis_url) -> dict:
    client = redis.Redis.from_url(redis_url)
    try:
        return json.loads(client.get(redis_keys.TRUST_LIST))
    finally:
        client.close()


def test_rotation_keeps_old_credentials_verifying(api, config):
    token, p = api.rider_pass()
    old = bind(api, token, p)["credential"]
    rotated = api.ok("POST", "/api/keys/rotate")
    assert rotated["active"] is True and rotated["published"] is True
    new = api.ok("POST", f"/api/passes/{p['id']}/credential", token=token)["credential"]
    assert kid_of(new) == rotated["kid"] != kid_of(old)
    jwks = api.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [kid_of(old), kid_of(new)]
    for credential in (old, new):
        assert verify_with_jwks(credential, jwks)["pid"] == p["id"]
    assert published_jwks(config["REDIS_URL"]) == jwks


def test_retired_key_leaves_the_trust_list(api, config):
    token, p = api.rider_pass()
    old = bind(api, token, p)["credential"]
    api.ok("POST", "/api/keys/rotate")
    retired = api.ok("POST", f"/api/keys/{kid_of(old)}/retire")
    assert retired["retired_at"] is not None and retired["published"] is True
    jwks = api.jwks()
    assert kid_of(old) not in [k["kid"] for k in jwks["keys"]] and len(jwks["keys"]) == 1
    assert published_jwks(config["REDIS_URL"]) == jwks
    with pytest.raises(KeyError):
        verify_with_jwks(old, jwks)
    listed = api.ok("GET", "/api/keys")["keys"]
    assert [(k["kid"] == kid_of(old), k["active"]) for k in listed] == [(True, False), (False, True)]


def test_the_only_active_key_cannot_be_retired(api):
    kid = api.jwks()["keys"][0]["kid"]
    response = api.call("POST", f"/api/keys/{kid}/retire")
    assert response.status_code == 409
    assert "only active key" in response.get_json()["error"]
    assert [k["kid"] for k in api.jwks()["keys"]] == [kid]


def test_retire_unknown_or_twice(api):
    assert api.call("POST", "/api/keys/nope/retire").status_code == 404
    first = api.jwks()["keys"][0]["kid"]
    api.ok("POST", "/api/keys/rotate")
    api.ok("POST", f"/api/keys/{first}/retire")
    again = api.call("POST", f"/api/keys/{first}/retire")
    assert again.status_code == 409 and "already retired" in again.get_json()["error"]


def test_jwks_keys_are_trusted_from_their_creation(api):
    trust = keys.TrustList.from_jwks(api.jwks())
    (jwk,) = api.jwks()["keys"]
    assert trust.get(jwk["kid"], jwk["nbf"]) is not None
    assert trust.get(jwk["kid"], jwk["nbf"] - 1) is None


def test_cli_rotate_list_retire_jwks(cli):
    first = cli.json("keys", "list")[0]["kid"]
    rotated = cli.json("keys", "rotate")
    assert rotated["active"] and rotated["published"] and rotated["kid"] != first
    assert [(k["kid"], k["active"]) for k in cli.json("keys", "list")] == [
        (first, False), (rotated["kid"], True)]
    assert [k["kid"] for k in cli.json("keys", "jwks")["keys"]] == [first, rotated["kid"]]
    assert cli.json("keys", "retire", first)["retired_at"] is not None
    assert [k["kid"] for k in cli.json("keys", "jwks")["keys"]] == [rotated["kid"]]
    line = cli.fails("keys", "retire", rotated["kid"])
    assert "only active key" in line
    assert "no signing key 'nope'" in cli.fails("keys", "retire", "nope")


def test_no_new_key_id_reads_as_a_command_line_option():
    # One key in 64 hashes to an id that begins with "-", which `vexe keys retire KID`
    # would take for an option; 3,000 draws without the redraw would meet one all but surely.
    assert not [kid for kid in (keys.key_id(keys.new_signing_key()) for _ in range(3000))
                if kid.startswith("-")]


def test_after_a_stolen_key_is_retired_nothing_it_signed_is_handed_out(api, cli):
    """The stolen-key procedure (docs/security.md): `vexe keys rotate`, then `vexe keys retire
    OLD`. The next custodial QR (by `vexe pass qr` and over HTTP, as the card fetches it) and
    the next refresh carry a credential of the new key, which every validator accepts; the
    custodial credential the issuer kept (72 h of life left) is never served again."""
    token, custodial = api.rider_pass()
    phone_token, phone = api.rider_pass()
    bind(api, phone_token, phone)
    first = cli.ok(*QR, custodial["id"]).stdout.strip()
    old = kid_of(_credential(first))
    new = cli.json("keys", "rotate")["kid"]
    assert cli.json("keys", "retire", old)["retired_at"] is not None
    jwks = api.jwks()
    now = time.time()
    texts = {"vexe pass qr": cli.ok(*QR, custodial["id"]).stdout.strip(),
             "GET /qr": api.call("GET", f"/api/passes/{custodial['id']}/qr",
                                 token=token).get_data(as_text=True)}
    for door, text in texts.items():
        assert kid_of(_credential(text)) == new, door
        verify_qr(text, jwks, now)  # as a validator checks it: unknown_key before the fix
    refreshed = api.ok("POST", f"/api/passes/{phone['id']}/credential", token=phone_token)
    assert kid_of(refreshed["credential"]) == new
    assert verify_with_jwks(refreshed["credential"], jwks)["pid"] == phone["id"]


def _credential(qr_text: str) -> str:
    """The issuer's credential inside a QR text, as a compact JWS."""
    parsed = ticket.parse_qr(qr_text)
    return ".".join(b64.encode(part) for part in (parsed.header_json, parsed.payload_json,
                                                  parsed.issuer_signature))
