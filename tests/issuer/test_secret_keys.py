"""The issuer's three secret keys (issuer.platform.keyring): rotating the sealing and cookie keys with
``vexe secret``, the national-ID key refused, and an installation from before the split
(one ``secret.key``) upgrading in place."""

import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from issuer import create_app
from issuer.platform import db, vault
from issuer.identity import eid, operators
from issuer.passes import signing
from issuer.platform.errors import NotReady
from issuer.platform.models import DeviceBinding, SigningKey
from issuer_testkit import (QR, assert_passes_still_verify, keys_before_the_split, leave_only_the_old_secret_file, verify_qr)
from shared import clock, keys

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def key_lines(config, name: str) -> list[str]:
    return (Path(config["DATA_DIR"]) / name).read_text().split()


def reloaded(config):
    """The issuer as it starts again (systemctl reload): settings read from the files."""
    return create_app({**config, "TESTING": True})


def sign_in(client, username: str) -> None:
    token = CSRF.search(client.get("/console/login").text).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": token})
    assert response.status_code == 302, response.text


def signed_in(app, cookie: str) -> bool:
    client = app.test_client()
    client.set_cookie("vexe_session", cookie)
    return client.get("/console/").status_code == 200


def opens(sealing_key: str, sealed: str) -> bool:
    try:
        vault.unseal(sealing_key, sealed)
    except NotReady:
        return False
    return True


class TestRotateSealing:
    def test_every_sealed_key_is_resealed_and_the_old_key_is_dropped(self, api, cli,
                                                                     initialised, session):
        """`vexe secret rotate sealing`, the issuers reloaded, `vexe secret finish sealing`:
        every signing key (three, one retired) and custodial device key opens with the new
        key alone and still signs; the old key opens nothing; credentials verify."""
        token, custodial = api.rider_pass()
        api.ok("POST", f"/api/passes/{custodial['id']}/custodial", token=token)
        phone_token, phone = api.rider_pass()
        api.ok("POST", f"/api/passes/{phone['id']}/device", token=phone_token,
               json={"public_key": keys.device_public_compressed(keys.new_device_key())})
        first = cli.json("keys", "list")[0]["kid"]
        cli.json("keys", "rotate")
        cli.json("keys", "rotate")
        cli.json("keys", "retire", first)
        [old] = key_lines(initialised, "sealing.key")

        out = cli.json("secret", "rotate", "sealing")
        new, kept = key_lines(initialised, "sealing.key")
        assert kept == old and new != old and out["keys"] == 2
        # Between the two steps, issuers old and reloaded both work: nothing is resealed yet.
        assert api.ok("POST", f"/api/passes/{phone['id']}/credential", token=phone_token)
        app = reloaded(initialised)

        done = cli.json("secret", "finish", "sealing")
        assert done == {"key": "sealing", "dropped": 1, "resealed": 4}
        assert key_lines(initialised, "sealing.key") == [new]
        session.rollback()
        sealed = [*session.scalars(sa.select(SigningKey)),
                  *session.scalars(sa.select(DeviceBinding).where(DeviceBinding.custodial))]
        assert len(sealed) == 4
        assert all(opens(new, row.sealed_private_key) for row in sealed)
        assert not any(opens(old, row.sealed_private_key) for row in sealed)
        for row in session.scalars(sa.select(SigningKey).where(SigningKey.retired_at.is_(None))):
            private = signing.signer(session, row.kid, sealing_key=new)
            assert keys.key_id(private) == row.kid
            private.public_key().verify(private.sign(b"still signs"), b"still signs")

        jwks = assert_passes_still_verify(app.test_client(), phone, phone_token, custodial, token)
        verify_qr(cli.ok(*QR, custodial["id"]).stdout.strip(), jwks, time.time())

    def test_finish_without_a_rotation_changes_nothing(self, cli, initialised):
        before = key_lines(initialised, "sealing.key")
        assert cli.json("secret", "finish", "sealing")["dropped"] == 0
        assert key_lines(initialised, "sealing.key") == before


class TestRotateCookies:
    def test_a_signed_in_session_survives_the_rotation(self, app, cli, initialised, session):
        """Signed in before `vexe secret rotate cookies`; after the reload the cookie still
        opens the console (the old key verifies as a fallback) until `finish` drops it."""
        operators.create(session, "clerk", [operators.CLERK], now=clock.now(), password=PASSWORD)
        session.commit()
        client = app.test_client()
        sign_in(client, "clerk")
        cookie = client.get_cookie("vexe_session").value
        [old] = key_lines(initialised, "cookie.key")

        cli.json("secret", "rotate", "cookies")
        new, kept = key_lines(initialised, "cookie.key")
        assert kept == old and new != old
        after = reloaded(initialised)
        assert after.config["SECRET_KEY"] == bytes.fromhex(new)
        assert signed_in(after, cookie)
        fresh = after.test_client()
        sign_in(fresh, "clerk")  # new sign-ins are signed with the new key
        new_cookie = fresh.get_cookie("vexe_session").value
        assert not signed_in(app, new_cookie)  # which the old key does not open

        cli.json("secret", "finish", "cookies")
        assert key_lines(initialised, "cookie.key") == [new]
        final = reloaded(initialised)
        assert signed_in(final, new_cookie)
        assert not signed_in(final, cookie)


def test_the_national_id_key_is_never_rotated_by_a_command(cli, initialised):
    before = key_lines(initialised, "national-id.key")
    for command in ("rotate", "finish"):
        line = cli.fails("secret", command, "national-id", code=2)
        assert "never rotated by a command" in line and "docs/operations.md" in line
    assert key_lines(initialised, "national-id.key") == before


def test_a_key_from_the_environment_is_moved_to_its_file_first(cli, initialised):
    (Path(initialised["DATA_DIR"]) / "cookie.key").unlink()
    line = cli.fails("secret", "rotate", "cookies", code=1, env={"VEXE_COOKIE_KEY": "c" * 64})
    assert "VEXE_COOKIE_KEY" in line


class TestUpgradeFromOneSecretKey:
    """An installation made before the split, with one ``secret.key``
    (issuer_testkit.keys_before_the_split)."""

    NATIONAL_ID = "001099012345"

    @pytest.fixture
    def old_install(self, bare_cli, config):
        """`vexe init`, an account with a national ID, an operator signed in, a custodial
        pass: every secret as the previous version used it; then only ``secret.key``."""
        secret = Fernet.generate_key().decode()
        old = keys_before_the_split(secret)
        bare_cli.json("init", env=old)
        account = bare_cli.json("account", "create", "--name", "Trần Thị Bình",
                                "--birth-date", "1985-03-04", "--national-id", self.NATIONAL_ID,
                                env=old)
        expected_hash = hmac.new(bytes.fromhex(old["VEXE_NATIONAL_ID_KEY"]),
                                 self.NATIONAL_ID.encode(), hashlib.sha256).hexdigest()
        data = Path(config["DATA_DIR"])
        for name in ("sealing.key", "national-id.key", "cookie.key"):
            assert not (data / name).exists()
        app = create_app({**config, "TESTING": True,
                          **{k.removeprefix("VEXE_"): v for k, v in old.items()}})
        with db.session(config["DATABASE_URL"]) as session:
            operators.create(session, "clerk", [operators.CLERK], now=clock.now(),
                             password=PASSWORD)
            session.commit()
            stored = session.scalar(sa.text("SELECT national_id_hash FROM accounts WHERE id = :i")
                                    .bindparams(i=account["id"]))
        assert stored == expected_hash  # the previous version's hash
        client = app.test_client()
        sign_in(client, "clerk")
        p = bare_cli.json("pass", "issue", account["id"], "--product", "multi", env=old)
        bare_cli.ok(*QR, p["id"], env=old)  # a custodial device key, sealed
        leave_only_the_old_secret_file(data, secret)
        return {"secret": secret, "account": account, "pass": p,
                "cookie": client.get_cookie("vexe_session").value}

    def test_the_first_start_splits_it_and_nothing_is_lost(self, old_install, bare_cli, config):
        data = Path(config["DATA_DIR"])
        app = reloaded(config)  # the first start of the new version
        assert not (data / "secret.key").exists()
        for name in ("sealing.key", "national-id.key", "cookie.key"):
            assert (data / name).stat().st_mode & 0o777 == 0o600, name
        assert key_lines(config, "sealing.key") == [old_install["secret"]]
        # Sealed keys open: `vexe init` checks, and the custodial QR verifies.
        assert bare_cli.json("init")["created"] == []
        jwks = app.test_client().get("/.well-known/jwks.json").get_json()
        verify_qr(bare_cli.ok(*QR, old_install["pass"]["id"]).stdout.strip(), jwks, time.time())
        # The same national ID finds the same account, by the e-ID and by hand.
        with db.session(config["DATABASE_URL"]) as session:
            account = eid.account_from_claims(
                session, issuer="http://idp.test", photo=None, now=clock.now(),
                national_id_key=app.config["NATIONAL_ID_KEY"],
                claims={"sub": "binh", "name": "Trần Thị Bình", "birthdate": "1985-03-04",
                        "identity_level": 2, "national_id": self.NATIONAL_ID})
            assert account.id == old_install["account"]["id"]
        line = bare_cli.fails("account", "create", "--name", "Trần Thị Bình", "--birth-date",
                              "1985-03-04", "--national-id", self.NATIONAL_ID, code=2)
        assert "already exists" in line
        # The operator signed in before the upgrade stays signed in.
        assert signed_in(app, old_install["cookie"])

    def test_vexe_init_splits_it_too(self, old_install, bare_cli, config):
        assert bare_cli.json("init")["created"] == []
        assert not (Path(config["DATA_DIR"]) / "secret.key").exists()
        assert key_lines(config, "sealing.key") == [old_install["secret"]]
