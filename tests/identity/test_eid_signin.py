"""Signing in with the national e-ID: the real OpenID Connect flow, over HTTP, between the
issuer and the development identity provider; and every way it must be refused."""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
import sqlalchemy as sa

from idp.citizens import BY_SUB
from issuer.platform import db, vault
from issuer.platform.models import Account
from shared import keys

AN, BINH, DUC, AN_AGAIN = "vn-7f3a9c21", "vn-2b8e4d10", "vn-95af02b3", "vn-1d9b3f70"


def accounts_in(world) -> list[Account]:
    with db.session(world.issuer.app.config["DATABASE_URL"]) as s:
        return list(s.scalars(sa.select(Account)))


def me(world, browser):
    return browser.get(f"{world.issuer.url}/api/me", timeout=10)


class TestSignIn:
    def test_first_sign_in_creates_the_account_from_the_claims(self, eid_world):
        browser = eid_world.browser()
        authorize = eid_world.start(browser)
        query = parse_qs(urlsplit(authorize).query)
        # Authorization code flow with PKCE (S256), state and nonce.
        assert query["response_type"] == ["code"]
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["state"] and query["nonce"]
        assert "openid" in query["scope"][0].split()
        callback = eid_world.choose(browser, authorize, AN)
        response = browser.get(callback, allow_redirects=False, timeout=30)
        assert response.status_code == 302 and response.headers["Location"] == "/my/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        account = me(eid_world, browser).json()
        assert account["full_name"] == "Nguyễn Văn An"
        assert account["birth_date"] == "1990-05-01"
        assert account["identity_level"] == 2 and account["has_photo"] is True
        assert account["may_hold_passes"] is True and account["signed_in_with_eid"] is True
        photo = browser.get(f"{eid_world.issuer.url}/api/me/photo", timeout=10)
        assert photo.headers["Content-Type"] == "image/png" and photo.content[:4] == b"\x89PNG"
        [row] = accounts_in(eid_world)
        secret = eid_world.issuer.app.config["NATIONAL_ID_KEY"]
        assert row.national_id_hash == vault.national_id_hash(secret, BY_SUB[AN].national_id)
        assert BY_SUB[AN].national_id not in repr(row.__dict__)

    def test_second_sign_in_finds_the_same_account(self, eid_world):
        first = eid_world.browser()
        eid_world.sign_in(first, AN)
        second = eid_world.browser()
        assert eid_world.sign_in(second, AN).status_code == 302
        assert me(eid_world, first).json()["id"] == me(eid_world, second).json()["id"]
        assert len(accounts_in(eid_world)) == 1

    def test_one_account_per_national_id(self, eid_world):
        """A second e-ID subject with the same national ID number is refused."""
        eid_world.sign_in(eid_world.browser(), AN)
        browser = eid_world.browser()
        browser.cookies.set("vexe_lang", "en")
        response = eid_world.sign_in(browser, AN_AGAIN)
        assert response.status_code == 409
        assert "already exists, opened with another e-ID" in response.text
        assert len(accounts_in(eid_world)) == 1
        assert me(eid_world, browser).status_code == 401

    def test_level_1_signs_in_but_cannot_hold_a_pass(self, eid_world):
        browser = eid_world.browser()
        assert eid_world.sign_in(browser, DUC).status_code == 302
        account = me(eid_world, browser).json()
        assert account["identity_level"] == 1 and account["may_hold_passes"] is False
        page = browser.get(f"{eid_world.issuer.url}/my/", timeout=10)
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        order = browser.post(f"{eid_world.issuer.url}/api/orders", timeout=10,
                             json={"product": "multi", "month": "2020-01"},
                             headers={"X-CSRFToken": csrf})
        assert order.status_code == 403 and "level-2" in order.json()["error"]
        free = browser.post(f"{eid_world.issuer.url}/api/free-passes", timeout=10,
                            json={"category": "elderly"}, headers={"X-CSRFToken": csrf})
        assert free.status_code == 403

    def test_a_level_1_e_id_never_takes_over_a_level_2_account(self, eid_world):
        """A level-1 e-ID (registered, not verified in person) naming the national ID number
        of a level-2 account made at a counter is refused with a page that says why: the
        account keeps its level, the e-ID gets no session and can't activate the pass."""
        issuer = eid_world.issuer
        operator = {"Authorization": f"Bearer {issuer.app.config['OPERATOR_TOKEN']}"}
        made = requests.post(f"{issuer.url}/api/accounts", headers=operator, timeout=10, json={
            "full_name": "Phạm Minh Đức", "birth_date": "1988-11-02",
            "national_id": BY_SUB[DUC].national_id}).json()
        p = requests.post(f"{issuer.url}/api/passes", headers=operator, timeout=10,
                          json={"account_id": made["id"], "product": "multi"}).json()
        browser = eid_world.browser()
        browser.cookies.set("vexe_lang", "en")
        response = eid_world.sign_in(browser, DUC)
        assert response.status_code == 403
        assert "level-1 e-ID" in response.text and "level-2 e-ID" in response.text
        assert me(eid_world, browser).status_code == 401
        [row] = accounts_in(eid_world)
        assert row.identity_level == 2 and row.oidc_subject is None
        bound = browser.post(f"{issuer.url}/api/passes/{p['id']}/device", timeout=10,
                             json={"public_key": keys.device_public_compressed(
                                 keys.new_device_key())})
        assert bound.status_code == 401

    def test_a_level_1_e_id_claims_no_national_id_number(self, eid_world):
        """Its number is the holder's word: it never stops the person's level-2 e-ID from
        signing in for the first time (a squatter's level-1 account holds no number)."""
        assert eid_world.sign_in(eid_world.browser(), DUC).status_code == 302
        [row] = accounts_in(eid_world)
        assert row.identity_level == 1 and row.national_id_hash is None

    def test_sign_out_ends_the_session(self, eid_world):
        browser = eid_world.browser()
        eid_world.sign_in(browser, BINH)
        page = browser.get(f"{eid_world.issuer.url}/my/", timeout=10)
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        out = browser.post(f"{eid_world.issuer.url}/signout", data={"csrf_token": csrf},
                           allow_redirects=False, timeout=10)
        assert out.status_code == 302
        assert me(eid_world, browser).status_code == 401

    def test_pages_send_a_stranger_to_sign_in(self, eid_world):
        response = eid_world.browser().get(f"{eid_world.issuer.url}/my/buy",
                                           allow_redirects=False, timeout=10)
        assert response.status_code == 302
        assert response.headers["Location"] == "/signin?next=/my/buy"


class TestRefused:
    @pytest.mark.parametrize(("fault", "words"), [
        ("nonce", "nonce"),
        ("audience", "aud"),
        ("issuer", "iss"),
        ("expired", "expired"),
        ("signature", "BadSignature"),
        ("unknown_key", "BadSignature"),
    ])
    def test_a_bad_id_token_is_refused(self, eid_world, fault, words, caplog):
        eid_world.fault(fault)
        browser = eid_world.browser()
        with caplog.at_level("INFO", logger="issuer.rider.signin"):
            response = eid_world.sign_in(browser, AN)
        assert response.status_code == 400, response.text
        # The rider reads what to do, in her language; the protocol's reason goes to the log.
        assert "Bạn chưa đăng nhập được" in response.text and "BadSignature" not in response.text
        assert any(words in r.getMessage() for r in caplog.records
                   if r.name == "issuer.rider.signin")
        assert accounts_in(eid_world) == []
        assert me(eid_world, browser).status_code == 401

    def test_a_state_not_ours_is_refused(self, eid_world, caplog):
        browser = eid_world.browser()
        callback = eid_world.choose(browser, eid_world.start(browser), AN)
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "forged-" + query["state"]
        forged = urlunsplit(parts._replace(query=urlencode(query)))
        with caplog.at_level("INFO", logger="issuer.rider.signin"):
            response = browser.get(forged, allow_redirects=False, timeout=30)
        assert response.status_code == 400 and "Bạn chưa đăng nhập được" in response.text
        assert any("state" in r.getMessage().lower() for r in caplog.records
                   if r.name == "issuer.rider.signin")
        assert accounts_in(eid_world) == []

    def test_a_callback_in_another_browser_is_refused(self, eid_world):
        """A code and state stolen from the rider's redirect are useless elsewhere."""
        browser = eid_world.browser()
        callback = eid_world.choose(browser, eid_world.start(browser), AN)
        thief = eid_world.browser()
        assert thief.get(callback, allow_redirects=False, timeout=30).status_code == 400
        assert accounts_in(eid_world) == []

    def test_a_callback_replayed_is_refused(self, eid_world):
        browser = eid_world.browser()
        callback = eid_world.choose(browser, eid_world.start(browser), AN)
        assert browser.get(callback, allow_redirects=False, timeout=30).status_code == 302
        assert browser.get(callback, allow_redirects=False, timeout=30).status_code == 400

    def test_a_denial_at_the_provider_is_refused(self, eid_world):
        browser = eid_world.browser()
        callback = eid_world.choose(browser, eid_world.start(browser), "")
        assert "error=access_denied" in callback
        response = browser.get(callback, allow_redirects=False, timeout=30)
        assert response.status_code == 400
        assert accounts_in(eid_world) == []

    def test_the_provider_requires_pkce(self, eid_world):
        browser = eid_world.browser()
        authorize = eid_world.start(browser)
        parts = urlsplit(authorize)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()
                 if k not in ("code_challenge", "code_challenge_method")}
        response = browser.get(urlunsplit(parts._replace(query=urlencode(query))), timeout=10)
        assert response.status_code == 400 and "PKCE" in response.text
