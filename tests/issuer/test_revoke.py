"""Revocation: the pass gets no more credentials and its id reaches the denylist in Redis,
until every credential issued for it has expired. Redis being away loses nothing."""

import json

import pytest
import redis

from issuer.passes import phones, passes
from issuer.platform.errors import Conflict
from issuer_testkit import QR
from shared import clock, keys, redis_keys
from shared.denylist import Denylist


def redis_denylist(url: str) -> Denylist:
    client = redis.Redis.from_url(url)
    try:
        return Denylist.loads(client.get(redis_keys.DENYLIST))
    finally:
        client.close()


def bound_pass(api):
    token, p = api.rider_pass()
    out = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                 json={"public_key": keys.device_public_compressed(keys.new_device_key())})
    return p, out["expires"]


def test_revoke_publishes_the_denylist(api, config):
    p, expires = bound_pass(api)
    before = clock.now()
    out = api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "card reported lost"})
    assert out["status"] == "revoked" and out["revoke_reason"] == "card reported lost"
    assert out["published"] is True
    deny = redis_denylist(config["REDIS_URL"])
    entry = deny.entries[p["id"]]
    assert int(before) <= entry.since == out["revoked_at"] and entry.until == expires
    assert entry.device is None
    served = api.call("GET", "/denylist.json", token=None)
    assert Denylist.loads(served.data).entries == deny.entries


def test_pass_never_given_a_credential_needs_no_entry(api, config):
    _, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "issued by mistake"})
    assert len(redis_denylist(config["REDIS_URL"])) == 0


def test_entry_drops_off_once_its_credentials_expired(api, session):
    p, expires = bound_pass(api)
    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "fraud"})
    assert passes.denylist(session, expires - 1).is_revoked(p["id"])
    assert not passes.denylist(session, expires).is_revoked(p["id"])


def test_revoke_needs_a_reason_and_happens_once(api, session):
    p, _ = bound_pass(api)
    for body in ({}, {"reason": ""}, {"reason": "  "}, {"reason": "x" * 501}):
        response = api.call("POST", f"/api/passes/{p['id']}/revoke", json=body)
        assert response.status_code == 400 and "reason" in response.get_json()["error"]
    assert api.ok("GET", f"/api/passes/{p['id']}")["status"] == "active"
    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "fraud"})
    again = api.call("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "again"})
    assert again.status_code == 409 and "already revoked" in again.get_json()["error"]
    assert api.ok("GET", f"/api/passes/{p['id']}")["revoke_reason"] == "fraud"
    assert api.call("POST", "/api/passes/ZZZZZZZZZZ/revoke",
                    json={"reason": "x"}).status_code == 404


def test_redis_away_the_revocation_stands_and_publish_catches_up(api, app, redis_server):
    """Redis down: the pass is revoked all the same and the answer says it was not
    published; once Redis is back, ``vexe publish`` (here: the next change) publishes it."""
    app.config["REDIS_URL"] = redis_server.url
    p, _ = bound_pass(api)
    redis_server.stop()
    out = api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "stolen"})
    assert out["status"] == "revoked" and out["published"] is False
    assert out["warning"].startswith("not published: Redis unreachable")
    redis_server.start()
    api.ok("POST", "/api/keys/rotate")
    assert redis_denylist(redis_server.url).is_revoked(p["id"])


def test_cli_revoke_with_redis_away_warns_and_exits_0(cli, redis_server):
    env = {"VEXE_REDIS_URL": redis_server.url}
    account = cli.json("account", "create", "--name", "Lê Văn Cường", "--birth-date", "1979-12-31")
    p = cli.json("pass", "issue", account["id"], "--product", "multi")
    cli.ok(*QR, p["id"], env=env)
    redis_server.stop()
    result = cli.ok("pass", "revoke", p["id"], "--reason", "stolen", env=env)
    out = json.loads(result.stdout)
    assert out["status"] == "revoked" and out["published"] is False
    assert result.stderr.startswith("vexe: warning: not published: Redis unreachable")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not published" in cli.fails("publish", code=1, env=env)
    redis_server.start()
    published = cli.json("publish", env=env)
    assert published == {"published": True, "trust_keys": 1, "denylist_entries": 1,
                         "stops": {"published": True, "routes_with_stops": 0,
                                   "routes_removed": 0}}
    assert redis_denylist(redis_server.url).is_revoked(p["id"])
    assert Denylist.loads(cli.ok("pass", "denylist").stdout).entries == redis_denylist(
        redis_server.url).entries


def test_credentials_until_is_final_once_revoked(api, session, app):
    """No credential is minted after the revocation, so the denylist entry's ``until``
    covers every credential of the pass."""
    p, expires = bound_pass(api)
    passes.revoke(session, p["id"], "fraud", now=clock.now())
    with pytest.raises(Conflict):
        phones.refresh_credential(session, p["id"], now=clock.now(),
                                   sealing_key=app.config["SEALING_KEY"])
    assert passes.get(session, p["id"]).credentials_until == expires


def test_a_session_that_read_the_pass_before_the_revocation_mints_nothing(api, app, session):
    """The request that binds a device read the pass before an operator revoked it: the
    lock taken before minting rereads the pass and sees the revocation."""
    token, p = api.rider_pass()
    held = passes.get(session, p["id"])  # kept in this session's memory, as a view keeps it
    assert held.status == "active"
    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "fraud"})
    with pytest.raises(Conflict, match="is revoked"):
        phones.bind_device(session, p["id"], keys.device_public_compressed(keys.new_device_key()),
                            now=clock.now(), sealing_key=app.config["SEALING_KEY"])
    assert passes.get(session, p["id"]).credentials_until == 0
