"""The issuer's doors: rate limits on sign-in and on credentials and QRs, security headers,
CSRF on every page form, the session cookie's flags, secrets in files only their owner reads."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import redis

from issuer.web import auth, headers, limits
from issuer import create_app
from issuer.identity import operators, sessions
from issuer.platform.errors import NotReady
from shared import clock
from hardening_testkit import VEXE, environment
from tests.testkit import free_port, wait_for

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def database_url(tmp_path):
    """SQLite alone: what is tested here does not depend on the database."""
    return f"sqlite:///{tmp_path / 'vexe.db'}"


def csrf(client, path: str = "/console/login") -> str:
    return CSRF.search(client.get(path).text).group(1)


def sign_in(client, username: str, password: str = PASSWORD, **kwargs):
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf(client)}, **kwargs)


# -- headers -------------------------------------------------------------------------------

class TestHeaders:
    @pytest.mark.parametrize("path, status", [
        ("/healthz", 200), ("/.well-known/jwks.json", 200), ("/console/login", 200),
        ("/api/nothing", 404), ("/console/nothing", 404), ("/api/routes", 401)])
    def test_every_answer_carries_them(self, client, path, status):
        response = client.get(path)
        assert response.status_code == status
        for name, value in headers.HEADERS.items():
            assert response.headers[name] == value, name
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP

    def test_hsts_over_https(self, client):
        response = client.get("/healthz", base_url="https://vexe.example")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")

    def test_the_policy_forbids_framing_plugins_and_inline_code(self):
        policy = dict(part.split(" ", 1) for part in headers.POLICY.split("; "))
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
        assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"

    def test_every_inline_handler_in_the_templates_is_hashed(self):
        """A handler attribute not listed would silently do nothing in a browser."""
        root = Path(create_app.__code__.co_filename).parent
        found = set()
        for page in root.rglob("*.html"):
            found |= set(re.findall(r'\son[a-z]+="([^"]*)"', page.read_text(encoding="utf-8")))
        assert found <= set(headers.INLINE_HANDLERS), found - set(headers.INLINE_HANDLERS)


# -- rate limits ---------------------------------------------------------------------------

def limit_of(text: str) -> int:
    return int(text.split()[0])


class TestSignInLimit:
    def test_per_address_then_429_with_retry_after(self, app, client):
        allowed = limit_of(limits.SIGN_IN)
        # A new username each time: the per-username lockout (5 failures) is not what is tested.
        statuses = [sign_in(client, f"nobody{n}", "wrong password").status_code
                    for n in range(allowed)]
        assert statuses == [401] * allowed
        refused = sign_in(client, "nobody-more", "wrong password")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        # The error page in the reader's language (Vietnamese by default), not a stack trace.
        assert "Quá nhiều yêu cầu" in refused.text and "Traceback" not in refused.text
        other = app.test_client()
        assert sign_in(other, "nobody", "wrong password",
                       environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 401

    def test_retry_after_is_never_past_the_window(self, client, monkeypatch):
        """All attempts in the same wall-clock second as the first: the refusal still says at
        most the window's 60 s (the limiter's own reset time is rounded up a whole second)."""
        monkeypatch.setattr(time, "time", lambda: 1_900_000_000.2)  # a clock that stands still
        for n in range(limit_of(limits.SIGN_IN)):
            assert sign_in(client, f"nobody{n}", "wrong password").status_code == 401
        refused = sign_in(client, "nobody-more", "wrong password")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"

    def test_a_depot_signing_in_its_shift_is_not_limited(self, app, client, session):
        # A shift's operators sign in from one address at once: only failures count.
        allowed = limit_of(limits.SIGN_IN)
        for n in range(allowed + 2):
            operators.create(session, f"driver{n}", [operators.CLERK], now=clock.now(),
                             password=PASSWORD)
        session.commit()
        for n in range(allowed + 2):
            shift = app.test_client()
            assert sign_in(shift, f"driver{n}").status_code == 302
        assert [sign_in(client, f"nobody{n}", "wrong password").status_code
                for n in range(allowed + 1)] == [401] * allowed + [429]
        # Once the address is over, a right password waits too: the limit is checked first.
        assert sign_in(app.test_client(), "driver0").status_code == 429

    def test_the_form_itself_is_not_limited(self, client):
        for _ in range(limit_of(limits.SIGN_IN) + 5):
            assert client.get("/console/login").status_code == 200

    def test_the_e_id_redirect_is_limited_too(self, client):
        statuses = [client.get("/signin").status_code
                    for _ in range(limit_of(limits.E_ID) + 1)]
        assert statuses[-1] == 429 and 429 not in statuses[:-1]

    def test_behind_a_proxy_the_client_address_counts(self, initialised):
        app = create_app({**initialised, "TESTING": True, "TRUSTED_PROXIES": 1})
        client = app.test_client()
        for n in range(limit_of(limits.SIGN_IN)):
            sign_in(client, f"x{n}", "wrong", headers={"X-Forwarded-For": "198.51.100.1"})
        blocked = sign_in(client, "y", "wrong", headers={"X-Forwarded-For": "198.51.100.1"})
        fresh = sign_in(client, "y", "wrong", headers={"X-Forwarded-For": "198.51.100.2"})
        assert (blocked.status_code, fresh.status_code) == (429, 401)


class TestQRLimit:
    def test_per_caller(self, api):
        token, issued = api.rider_pass("multi")
        assert api.call("POST", f"/api/passes/{issued['id']}/custodial", token=token,
                        json={}).status_code == 201
        path = f"/api/passes/{issued['id']}/qr"
        allowed = limit_of(limits.QR)
        assert [api.call("GET", path, token=token).status_code
                for _ in range(allowed)] == [200] * allowed
        refused = api.call("GET", path, token=token)
        assert refused.status_code == 429 and refused.get_json()["error"]
        assert int(refused.headers["Retry-After"]) > 0
        # Another caller (here an operator) has a count of its own: refused as no rider of
        # this pass (403), not as over the limit.
        assert api.call("GET", path).status_code == 403

    def test_credentials_too(self, api, client):
        token, issued = api.rider_pass("multi")
        path = f"/api/passes/{issued['id']}/credential"
        statuses = [api.call("POST", path, token=token, json={}).status_code
                    for _ in range(limit_of(limits.CREDENTIAL) + 1)]
        assert statuses[-1] == 429 and 429 not in statuses[:-1]  # 409s: no device yet


class TestWhoIsCounted:
    """The credential and QR limits count the account or operator calling, whatever bytes
    carry it: another spelling of one token, or another cookie of one rider, is the same
    caller."""

    @pytest.fixture
    def custodial(self, api):
        token, issued = api.rider_pass("multi")
        api.ok("POST", f"/api/passes/{issued['id']}/custodial", token=token, json={})
        return token, issued

    def test_one_token_spelt_many_ways_is_one_caller(self, api, custodial):
        token, issued = custodial
        spellings = [f"Bearer {token}", f"bearer {token}", f"BEARER {token}",
                     f"Bearer  {token}", f"Bearer {token} ", f"bEaReR \t{token}"]
        path = f"/api/passes/{issued['id']}/qr"
        statuses = [api.call("GET", path, token=None,
                             headers={"Authorization": spellings[n % len(spellings)]}).status_code
                    for n in range(limit_of(limits.QR) + 1)]
        assert statuses == [200] * limit_of(limits.QR) + [429]

    def test_a_riders_cookies_and_token_are_one_caller(self, app, api, session, custodial):
        """A browser's session cookie is signed again every second (and a rider may sign in
        on several browsers): each cookie is still the one rider, as is the rider's token."""
        token, issued = custodial
        serializer = app.session_interface.get_signing_serializer(app)
        cookies = []
        for _ in range(2):  # two browsers signed in, each cookie signed at two moments
            sid = sessions.start(session, now=clock.now(), account_id=issued["account_id"])
            cookies.append(serializer.dumps({auth.SESSION_KEY: sid}))
        time.sleep(1.1)
        cookies += [serializer.dumps(serializer.loads(c)) for c in cookies]
        assert len(set(cookies)) == 4
        browser = app.test_client(use_cookies=False)
        path = f"/api/passes/{issued['id']}/qr"
        statuses = [browser.get(path, headers={"Cookie": f"vexe_session={cookies[n % 4]}"})
                    .status_code for n in range(limit_of(limits.QR) - 1)]
        statuses.append(api.call("GET", path, token=token).status_code)
        statuses.append(browser.get(path, headers={"Cookie": f"vexe_session={cookies[0]}"})
                        .status_code)
        assert statuses == [200] * limit_of(limits.QR) + [429]


def start_issuer(tmp_path, env: dict, name: str) -> tuple[subprocess.Popen, str]:
    """The issuer as it runs for real: gunicorn, one worker, its own process."""
    import requests

    port = free_port()
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen([os.path.join(os.path.dirname(VEXE), "gunicorn"), "-w", "1", "-b",
                             f"127.0.0.1:{port}", "issuer:create_app()"], env=env, stdout=log,
                            stderr=log)
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(requests, base), timeout=60, what="issuer up")
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    return proc, base


def test_redis_away_and_back_under_a_running_issuer(tmp_path, initialised, redis_server):
    """Redis stops: sign-in still answers (401, never 500) and is still limited, in the
    process's memory. Redis starts again: the count goes back to Redis by itself."""
    import requests

    env = environment(VEXE_DATA_DIR=initialised["DATA_DIR"],
                      VEXE_DATABASE_URL=initialised["DATABASE_URL"],
                      VEXE_REDIS_URL=redis_server.url, VEXE_TRUSTED_PROXIES="1")
    proc, base = start_issuer(tmp_path, env, "issuer")
    browser = requests.Session()
    shared = redis.Redis.from_url(redis_server.url)
    try:
        token = CSRF.search(browser.get(base + "/console/login", timeout=10).text).group(1)

        names = (f"nobody{n}" for n in range(1000))  # not the per-username lockout

        def attempt(address: str) -> int:
            return browser.post(base + "/console/login", timeout=10,
                                headers={"X-Forwarded-For": address},
                                data={"username": next(names), "password": "y",
                                      "csrf_token": token}).status_code

        redis_server.stop()
        allowed = limit_of(limits.SIGN_IN)
        assert [attempt("198.51.100.9") for _ in range(allowed + 1)] == [401] * allowed + [429]
        redis_server.start()
        addresses = (f"198.51.100.{n}" for n in range(10, 250))
        wait_for(lambda: attempt(next(addresses)) == 401
                 and shared.keys("LIMITS:LIMITER/vexe:ratelimit/*"), timeout=45, interval=0.3,
                 what="the limit counted in Redis again")
    finally:
        shared.close()
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in (tmp_path / "issuer.log").read_text()


def test_two_hosts_share_one_count(tmp_path, initialised, redis_url):
    """Two issuer processes (two hosts behind a balancer) on one Redis: requests alternate
    between them and the eleventh from one address is refused wherever it lands."""
    import requests

    env = environment(VEXE_DATA_DIR=initialised["DATA_DIR"],
                      VEXE_DATABASE_URL=initialised["DATABASE_URL"], VEXE_REDIS_URL=redis_url)
    procs, bases = [], []
    try:
        for n in range(2):
            proc, base = start_issuer(tmp_path, env, f"host{n}")
            procs.append(proc)
            bases.append(base)
        # One browser: its cookie and CSRF token from the first host are good on both (one
        # secret key); the limit is counted where the password is tried, past the CSRF check.
        browser = requests.Session()
        token = CSRF.search(browser.get(bases[0] + "/console/login", timeout=10).text).group(1)
        statuses = [browser.post(bases[n % 2] + "/console/login", timeout=10,
                                 data={"username": f"x{n}", "password": "y",
                                       "csrf_token": token}).status_code
                    for n in range(limit_of(limits.SIGN_IN) + 2)]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    allowed = limit_of(limits.SIGN_IN)
    assert statuses == [401] * allowed + [429, 429]
    shared = redis.Redis.from_url(redis_url)
    try:
        assert shared.keys("LIMITS:LIMITER/vexe:ratelimit/*")
    finally:
        shared.close()


def _up(requests, base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


# -- CSRF and cookies ----------------------------------------------------------------------

@pytest.fixture
def operator_client(app, session):
    operators.create(session, "root", list(operators.ROLES), now=clock.now(), password=PASSWORD)
    session.commit()
    client = app.test_client()
    assert sign_in(client, "root").status_code == 302
    return client


def page_forms(app) -> list[str]:
    """Every URL rule of a page that takes a POST."""
    rules = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith("/api/"):
            rules.append(rule.rule)
    return sorted(rules)


def test_every_page_form_refuses_a_post_without_the_token(app, operator_client):
    """Found from the URL map, so a form added later is covered without being listed."""
    forms = page_forms(app)
    assert "/console/login" in forms and "/console/logout" in forms and len(forms) >= 8
    for rule in forms:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"1", rule)
        response = operator_client.post(path, data={"reason": "x", "amount": "1"})
        assert response.status_code == 400, (rule, response.status_code)
        assert "CSRF" in response.text, rule
    # Still signed in: nothing above signed the operator out.
    assert operator_client.get("/console/").status_code == 200


def test_a_token_from_another_session_is_refused(app, session, operator_client):
    operators.create(session, "other", [operators.CLERK], now=clock.now(), password=PASSWORD)
    session.commit()
    other = app.test_client()
    sign_in(other, "other")
    theirs = csrf(other, "/console/")
    response = operator_client.post("/console/logout", data={"csrf_token": theirs})
    assert response.status_code == 400
    assert operator_client.get("/console/").status_code == 200


def test_the_session_cookie_flags(app, session, initialised):
    operators.create(session, "flags", [operators.CLERK], now=clock.now(), password=PASSWORD)
    session.commit()
    plain = sign_in(app.test_client(), "flags").headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    forced = create_app({**initialised, "TESTING": True, "SESSION_COOKIE_SECURE": True})
    cookie = sign_in(forced.test_client(), "flags").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


# -- secrets -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_secret_file_others_can_read_is_refused(initialised, mode):
    path = os.path.join(initialised["DATA_DIR"], "sealing.key")
    os.chmod(path, mode)
    with pytest.raises(NotReady, match=r"can be read or changed by other users \(mode "
                                       f"{mode:o}\\); run chmod 600"):
        create_app({**initialised, "TESTING": True})
    out = subprocess.run([VEXE, "keys", "list"], capture_output=True, text=True, timeout=60,
                         env=environment(VEXE_DATA_DIR=initialised["DATA_DIR"],
                                         VEXE_DATABASE_URL=initialised["DATABASE_URL"]))
    assert out.returncode != 0 and out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.startswith("vexe: ") and "chmod 600" in out.stderr
    os.chmod(path, 0o600)
    create_app({**initialised, "TESTING": True})


@pytest.mark.parametrize("name", ["national-id.key", "cookie.key", "operator.token"])
def test_the_other_secret_files_are_checked_too(initialised, name):
    path = os.path.join(initialised["DATA_DIR"], name)
    os.chmod(path, 0o644)
    with pytest.raises(NotReady, match=f"{name} can be read"):
        create_app({**initialised, "TESTING": True})


def test_secrets_from_the_environment_need_no_file(initialised, tmp_path):
    data = Path(initialised["DATA_DIR"])
    names = {"SEALING_KEY": "sealing.key", "NATIONAL_ID_KEY": "national-id.key",
             "COOKIE_KEY": "cookie.key", "OPERATOR_TOKEN": "operator.token"}
    values = {name: (data / file).read_text().strip() for name, file in names.items()}
    for file in names.values():
        os.chmod(data / file, 0o644)  # never read: the setting wins
    app = create_app({**initialised, "TESTING": True, **values})
    assert {name: app.config[name] for name in names} == values
