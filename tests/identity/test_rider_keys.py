"""Riders through changes of the issuer's secret keys, signed in with the e-ID over HTTP: a
cookie-key rotation keeps them signed in; an installation from before the three keys
upgrades and the same national ID signs in to the same account."""

from pathlib import Path

from cryptography.fernet import Fernet

from idp.citizens import BY_SUB
from tests.issuer.issuer_testkit import keys_before_the_split, leave_only_the_old_secret_file
from tests.identity.conftest import served_eid_world

AN = "vn-7f3a9c21"


def me(world, browser):
    return browser.get(f"{world.issuer.url}/api/me", timeout=10)


def test_a_signed_in_rider_stays_signed_in_through_a_cookie_rotation(initialised, cli):
    """Signed in; `vexe secret rotate cookies`; the issuer started again (a reload) still
    knows her, and sends her cookie signed anew. After `vexe secret finish cookies` that
    cookie still works and the one from before the rotation does not: the fallback key is
    what kept her."""
    with served_eid_world(initialised) as world:
        browser = world.browser()
        assert world.sign_in(browser, AN).status_code == 302
        account = me(world, browser).json()["id"]
    before = browser.cookies.get("vexe_session")
    cli.json("secret", "rotate", "cookies")
    with served_eid_world(initialised) as world:
        assert world.issuer.app.config["SECRET_KEY_FALLBACKS"]
        response = me(world, browser)
        assert response.status_code == 200 and response.json()["id"] == account
    assert browser.cookies.get("vexe_session") != before
    cli.json("secret", "finish", "cookies")
    with served_eid_world(initialised) as world:
        assert me(world, browser).json()["id"] == account
        stale = world.browser()
        stale.cookies.set("vexe_session", before)
        assert me(world, stale).status_code == 401


def test_after_the_upgrade_the_same_national_id_finds_the_same_account(bare_cli, config):
    """An account made by the previous version with the rider's national ID; the new version's
    first start splits ``secret.key``; her e-ID sign-in lands in that account."""
    secret = Fernet.generate_key().decode()
    old = keys_before_the_split(secret)
    bare_cli.json("init", env=old)
    citizen = BY_SUB[AN]
    account = bare_cli.json("account", "create", "--name", citizen.name, "--birth-date",
                            citizen.birthdate, "--national-id", citizen.national_id, env=old)
    leave_only_the_old_secret_file(Path(config["DATA_DIR"]), secret)
    with served_eid_world(config) as world:
        browser = world.browser()
        assert world.sign_in(browser, AN).status_code == 302
        assert me(world, browser).json()["id"] == account["id"]
    assert not (Path(config["DATA_DIR"]) / "secret.key").exists()
