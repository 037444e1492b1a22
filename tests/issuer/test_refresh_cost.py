"""A credential refresh, the request every phone makes: the round trips it costs the database
(counted on the real engines, on the wire), the per-process cache of the unsealed signing key
(which must follow rotation and retirement done by any process), a connection the server
dropped, a revocation and a move made through another instance of the issuer, and credential
ids kept unique by the primary key alone."""

from __future__ import annotations

import time

import jwt
import pytest
import sqlalchemy as sa

from issuer import create_app
from issuer.platform import db, ids
from issuer.passes import signing
from issuer.platform.models import Credential, Pass
from issuer.platform.roundtrips import RoundTrips
from shared import clock, keys

# On PostgreSQL, one statement in autocommit: the rider's token, the pass locked and checked,
# its binding, the signing key's id, the credential recorded, credentials_until moved on.
PG_ROUND_TRIPS = 1
# On SQLite (a laptop's database, no wire): the general path, the pool's ping; a rider's token
# looked up; the pass locked with its binding and the signing key's id; the credential
# logged; the pass's credentials_until moved on (skipped within the same second); the commit.
MOST_SQLITE_CALLS = 6


class Statements:
    """Every statement, and every commit, sent on the app's engine while in use."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.sent: list[str] = []
        self.commits = 0

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.sent.append(" ".join(statement.split()))

    def _commit(self, conn):
        self.commits += 1

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        sa.event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)


def refresh(api, bound) -> dict:
    token, pass_id = bound
    return api.ok("POST", f"/api/passes/{pass_id}/credential", token=token)


def kid_of(issued: dict) -> str:
    return jwt.get_unverified_header(issued["credential"])["kid"]


def is_postgresql(app) -> bool:
    return app.config["DATABASE_URL"].startswith("postgresql")


def test_a_refresh_costs_one_round_trip_on_postgresql(app, api, bound):
    """Counted on the wire on both engines the issuer has: one exchange with PostgreSQL in
    all (no pre-ping, no BEGIN, no COMMIT, no token lookup of its own); a refresh that sent
    one more would fail here."""
    url = app.config["DATABASE_URL"]
    refresh(api, bound)  # the signing key unsealed once in this process, connections pooled
    with RoundTrips(db.engine(url)) as general, RoundTrips(db.autocommit_engine(url)) as one:
        issued = refresh(api, bound)
    sent = general.sent + one.sent
    if is_postgresql(app):
        assert (general.count, one.count) == (0, PG_ROUND_TRIPS), sent
        assert "FROM passes" in one.sent[0] and "INSERT INTO credentials" in one.sent[0]
    else:
        assert one.count == 0 and general.count <= MOST_SQLITE_CALLS, sent
        assert general.sent[-1] == "COMMIT"
        # No lookup before the insert, no signing key read, the pass read once.
        assert not any(s.startswith("SELECT") and "FROM credentials" in s for s in sent)
        assert not any("FROM signing_keys" in s and "FROM passes" not in s for s in sent)
        assert sum("FROM passes" in s for s in sent) == 1, sent
    assert issued["qr_body_head"] and kid_of(issued) in {k["kid"] for k in api.jwks()["keys"]}
    with db.session(url) as s:  # recorded, and the pass knows its credentials run this far
        row = s.get(Credential, jwt.decode(issued["credential"],
                                           options={"verify_signature": False})["jti"])
        assert (row.exp, row.kid) == (issued["expires"], kid_of(issued))
        assert s.get(Pass, bound[1]).credentials_until >= issued["expires"]


def test_a_connection_the_server_dropped_is_replaced_once(app, api, bound):
    """No pre-ping round trip: a connection PostgreSQL has cut (a restart, an idle
    connection killed) is found by its socket when taken from the pool, or by the statement
    failing on it, which is then sent once more on a new one; the rider sees nothing."""
    if not is_postgresql(app):
        pytest.skip("SQLite has no server to drop a connection")
    url = app.config["DATABASE_URL"]
    refresh(api, bound)
    with db.autocommit_engine(url).connect() as conn:  # the pooled connection, given back
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with db.session(url) as other:
        assert other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    with RoundTrips(db.autocommit_engine(url)) as seen:
        issued = refresh(api, bound)
    # Once when the socket said so at checkout; twice when the server closed it only after
    # (pg_terminate_backend signals the backend and does not wait): the dead one, the retry.
    assert seen.count in (1, 2) and "ping" not in seen.sent, seen.sent
    assert kid_of(issued) in {k["kid"] for k in api.jwks()["keys"]}


def terminate(url: str, pid: int) -> None:
    """Kill a backend from a connection of no pool of the issuer's, and wait till it is gone."""
    killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                {"pid": pid}).scalar()
            for _ in range(100):
                if not conn.execute(sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"),
                                    {"pid": pid}).first():
                    return
                time.sleep(0.02)
    finally:
        killer.dispose()


def test_a_dropped_connection_of_the_general_path_is_replaced(app, api, bound):
    """The other requests (here a pass's phones read by its rider) take their connection
    through the same socket check: a connection the server closed is never handed to them."""
    if not is_postgresql(app):
        pytest.skip("SQLite has no server to drop a connection")
    token, pass_id = bound
    url = app.config["DATABASE_URL"]
    api.ok("GET", f"/api/passes/{pass_id}/devices", token=token)
    with db.engine(url).connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    terminate(url, pid)
    with RoundTrips(db.engine(url)) as seen:
        assert api.ok("GET", f"/api/passes/{pass_id}/devices", token=token)["devices"]
    assert seen.count > 0 and "ping" not in seen.sent, seen.sent


def other_instance(app):
    """Another issuer on the same database, as a second host behind the proxy would be."""
    return create_app({**app.config})


def test_a_pass_revoked_on_another_instance_gets_no_credential(app, api, bound):
    token, pass_id = bound
    refresh(api, bound)
    host_b = other_instance(app).test_client()
    revoked = host_b.post(f"/api/passes/{pass_id}/revoke", json={"reason": "fraud"},
                          headers={"Authorization": f"Bearer {api.operator_token}"})
    assert revoked.status_code == 200, revoked.get_json()
    url = app.config["DATABASE_URL"]
    with db.session(url) as s:
        before = s.scalar(sa.select(sa.func.count()).select_from(Credential))
        until = s.get(Pass, pass_id).credentials_until
    refused = api.call("POST", f"/api/passes/{pass_id}/credential", token=token, json={})
    assert refused.status_code == 409 and "revoked" in refused.get_json()["error"]
    with db.session(url) as s:  # nothing recorded, nothing moved on
        assert s.scalar(sa.select(sa.func.count()).select_from(Credential)) == before
        assert s.get(Pass, pass_id).credentials_until == until


def test_a_pass_moved_on_another_instance_is_credentialled_for_the_new_phone(app, api, bound):
    token, pass_id = bound
    old = refresh(api, bound)
    new_phone = keys.new_device_key()
    host_b = other_instance(app).test_client()
    moved = host_b.post(f"/api/passes/{pass_id}/device",
                        json={"public_key": keys.device_public_compressed(new_phone)},
                        headers={"Authorization": f"Bearer {token}"})
    assert moved.status_code == 201, moved.get_json()
    issued = refresh(api, bound)
    assert issued["device_key"] == keys.device_public_compressed(new_phone) != old["device_key"]
    bound_to = [jwt.decode(i["credential"], options={"verify_signature": False})["cnf"]
                for i in (old, moved.get_json(), issued)]
    assert bound_to[2] == bound_to[1] != bound_to[0]  # the new phone's key, not the old one


def test_the_first_refresh_in_a_process_unseals_the_key_once(app, api, bound, monkeypatch):
    monkeypatch.setattr(signing, "_unsealed", {})
    with Statements(db.engine(app.config["DATABASE_URL"])) as seen:
        refresh(api, bound)
        refresh(api, bound)
    assert sum(s.startswith("SELECT signing_keys.") for s in seen.sent) == 1, seen.sent


def test_rotation_and_retirement_by_another_process_are_honoured(app, api, bound):
    """The key cached here stops signing the moment the database says another key signs."""
    url, secret = app.config["DATABASE_URL"], app.config["SEALING_KEY"]
    first = kid_of(refresh(api, bound))
    assert (secret, first) in signing._unsealed

    with db.session(url) as other:  # as `vexe keys rotate` would, outside this app
        second = signing.rotate(other, sealing_key=secret, now=clock.now()).kid
    assert kid_of(refresh(api, bound)) == second

    with db.session(url) as other:  # the newest retired: the older one left signs again
        signing.retire(other, second, now=clock.now())
        other.commit()
    assert kid_of(refresh(api, bound)) == first

    with db.session(url) as other:
        third = signing.rotate(other, sealing_key=secret, now=clock.now()).kid
        signing.retire(other, first, now=clock.now())
        other.commit()
    issued = refresh(api, bound)
    assert kid_of(issued) == third
    trusted = {k["kid"] for k in api.jwks()["keys"]}
    assert trusted == {third}
    with db.session(url) as s:
        used = set(s.scalars(sa.select(Credential.kid)))
    assert used == {first, second, third}


def test_a_retired_key_in_the_cache_is_never_used(app, api, bound):
    """Through the API this time: rotate, sign (cached), retire that key: the next
    credential is signed by the key left, and verifies with the published keys."""
    first = kid_of(refresh(api, bound))
    second = api.ok("POST", "/api/keys/rotate")["kid"]
    assert kid_of(refresh(api, bound)) == second
    api.ok("POST", f"/api/keys/{second}/retire")
    issued = refresh(api, bound)
    assert kid_of(issued) == first
    assert kid_of(issued) in {k["kid"] for k in api.jwks()["keys"]}


def test_a_cached_key_needs_the_same_sealing_key(app, api, bound):
    """The cache is keyed by the sealing key too: an issuer configured with another sealing key
    cannot sign with a key it could not unseal."""
    from cryptography.fernet import Fernet

    from issuer import create_app

    refresh(api, bound)
    other = create_app({**app.config, "SEALING_KEY": Fernet.generate_key().decode()})
    token, pass_id = bound
    response = other.test_client().post(f"/api/passes/{pass_id}/credential", json={},
                                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.get_json()


def test_an_id_already_taken_is_drawn_again(app, api, bound, monkeypatch):
    """The primary key, not a lookup, keeps credential ids unique: a taken id inserts
    nothing and the next one is used."""
    url = app.config["DATABASE_URL"]
    refresh(api, bound)
    with db.session(url) as s:
        before = {row.jti: (row.nbf, row.exp) for row in s.scalars(sa.select(Credential))}
    existing = next(iter(before))
    draws = iter([existing, "NewId-01"])
    monkeypatch.setattr(ids, "new_jti", lambda: next(draws))
    issued = refresh(api, bound)
    claims = jwt.decode(issued["credential"], options={"verify_signature": False})
    assert claims["jti"] == "NewId-01"
    with db.session(url) as s:
        after = {row.jti: (row.nbf, row.exp) for row in s.scalars(sa.select(Credential))}
    assert after == {**before, "NewId-01": (claims["nbf"], claims["exp"])}


def test_what_a_refresh_asks_redis(app, api, bound, redis_url):
    """On PostgreSQL a refresh asks Redis nothing: its rate is counted on the pass by its one
    statement. On SQLite (the general path) the rate limiter asks once (its count, keyed on
    the token: one script). Nothing else on the way asks it at all: seen by Redis itself
    (MONITOR), on this test's database."""
    import redis

    refresh(api, bound)  # the limiter's script loaded, its connection pooled
    watcher, marker_client = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    marker_client.ping()  # its connection made and its database selected before counting
    database = marker_client.connection_pool.connection_kwargs.get("db", 0)
    marker = f"refresh-cost-{time.monotonic_ns()}"
    with watcher.monitor() as monitor:
        refresh(api, bound)
        marker_client.echo(marker)  # the end of what the refresh sent
        seen = []
        for command in monitor.listen():
            if command["db"] != database or command.get("client_type") == "lua":
                continue  # another test's database, or a command inside the limiter's script
            if marker in command["command"]:
                break
            seen.append(command["command"])
    watcher.close()
    marker_client.close()
    if is_postgresql(app):
        assert seen == []
        return
    assert len(seen) == 1, seen
    assert seen[0].startswith("EVALSHA") and "credential" in seen[0], seen


def test_a_phone_refreshing_too_often_is_refused_by_its_pass(app, api, bound):
    """The refresh's statement counts the rate on the pass: the limit's worth at once, then
    one every spacing; a refresh over it is a 429 with the seconds to wait, records nothing
    and moves nothing; another host of the issuer counts on the same row; another rider's
    pass is not held up."""
    if not is_postgresql(app):
        pytest.skip("the one-statement refresh is PostgreSQL's (SQLite's is counted in Redis)")
    from issuer.web import limits

    url = app.config["DATABASE_URL"]
    allowed = int(limits.CREDENTIAL.split()[0])
    token, pass_id = bound
    host_b = other_instance(app).test_client()  # another host, on the same database

    def ask():
        return api.call("POST", f"/api/passes/{pass_id}/credential", token=token, json={})

    # The limit's worth at once (and one more per spacing gone by meanwhile: a slow machine's
    # refreshes take time, so the exact count is not asserted), then a refusal.
    minted = 0
    while (refused := ask()).status_code == 200:
        minted += 1
        assert minted <= 2 * allowed, "the burst was not stopped"
    assert minted >= allowed

    assert refused.status_code == 429, refused.get_json()
    assert 1 <= int(refused.headers["Retry-After"]) <= limits.CREDENTIAL_SPACING_MS // 1000
    assert refused.get_json()["error"].startswith("Too many requests")

    def ahead_by(ms: int) -> None:
        """The pass's next refresh due ``ms`` past the burst, on the database's clock (what
        a rider hammering for a while leaves), whatever time this machine took so far."""
        with db.session(url) as s:
            s.execute(sa.update(Pass).where(Pass.id == pass_id).values(refresh_tat_ms=sa.text(
                f"(extract(epoch FROM now()) * 1000)::bigint + {limits.CREDENTIAL_BURST_MS + ms}")))
            s.commit()

    def counted():
        with db.session(url) as s:
            p = s.get(Pass, pass_id)
            return (s.scalar(sa.select(sa.func.count()).select_from(Credential)
                             .where(Credential.pass_id == p.id)), p.credentials_until,
                    p.refresh_tat_ms)

    ahead_by(10_000)
    before = counted()
    refused = ask()
    assert refused.status_code == 429 and 9 <= int(refused.headers["Retry-After"]) <= 10
    assert counted() == before  # nothing recorded, nothing moved, the wait not pushed on
    assert host_b.post(f"/api/passes/{pass_id}/credential", json={},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 429
    ahead_by(0)  # the wait over: one more, then the next waits a spacing again
    refresh(api, bound)
    assert ask().status_code == 429
    other_token, other_pass = api.rider_pass()
    api.ok("POST", f"/api/passes/{other_pass['id']}/device", token=other_token,
           json={"public_key": keys.device_public_compressed(keys.new_device_key())})
    refresh(api, (other_token, other_pass["id"]))
