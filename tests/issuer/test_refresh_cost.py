"""A credential refresh, the request every phone makes: the statements it sends to the
database (counted on the real engine), the per-process cache of the unsealed signing key
(which must follow rotation and retirement done by any process), and credential ids kept
unique by the primary key alone."""

from __future__ import annotations

import jwt
import pytest
import sqlalchemy as sa

from issuer.platform import db, ids
from issuer.passes import signing
from issuer.platform.models import Credential
from shared import clock, keys

# A rider's token looked up; the pass locked with its binding and the signing key's id; the
# credential logged; the pass's credentials_until moved on (skipped within the same second).
MOST_STATEMENTS = 4


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


@pytest.fixture
def bound(api, device):
    """A rider's pass on a phone: (rider token, pass id)."""
    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    return token, p["id"]


def refresh(api, bound) -> dict:
    token, pass_id = bound
    return api.ok("POST", f"/api/passes/{pass_id}/credential", token=token)


def kid_of(issued: dict) -> str:
    return jwt.get_unverified_header(issued["credential"])["kid"]


def test_a_refresh_sends_four_statements_at_most(app, api, bound):
    refresh(api, bound)  # the signing key unsealed once in this process
    with Statements(db.engine(app.config["DATABASE_URL"])) as seen:
        issued = refresh(api, bound)
    assert len(seen.sent) <= MOST_STATEMENTS and seen.commits == 1, seen.sent
    # No lookup before the insert, no signing key read, the pass read once.
    assert not any(s.startswith("SELECT") and "FROM credentials" in s for s in seen.sent)
    assert not any("FROM signing_keys" in s and "FROM passes" not in s for s in seen.sent)
    assert sum("FROM passes" in s for s in seen.sent) == 1, seen.sent
    assert issued["qr_body_head"] and kid_of(issued) in {k["kid"] for k in api.jwks()["keys"]}


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
