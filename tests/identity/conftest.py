"""Fixtures for identity, roles and the pass lifecycle: the issuer's own fixtures (an
initialised issuer on SQLite and PostgreSQL, its client and command line), plus operators
with roles, signed in on the web or holding API tokens."""

from __future__ import annotations

import re

import pytest

from issuer.identity import operators
from shared import clock
from tests.issuer.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    Api,
    Cli,
    api,
    app,
    bare_cli,
    cli,
    client,
    config,
    device,
    initialised,
    session,
)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Staff:
    """Operators of each role, made through the service as ``vexe operator`` would."""

    def __init__(self, app, session):
        self.app = app
        self.session = session

    def create(self, username: str, *roles: str, password: str | None = PASSWORD):
        made = operators.create(self.session, username, roles, now=clock.now(), password=password)
        self.session.commit()
        return made

    def token(self, username: str, role: str) -> str:
        """A new operator holding ``role``, and an API token scoped to it."""
        if self.session.scalar(operators.sa.select(operators.Operator.id)
                               .where(operators.Operator.username == username)) is None:
            self.create(username, role)
        token = operators.issue_token(self.session, username, role, now=clock.now())[1]
        self.session.commit()
        return token

    def browser(self, username: str, *roles: str):
        """A test client signed in on the web as a new operator with ``roles``."""
        self.create(username, *roles)
        client = self.app.test_client()
        sign_in(client, username, PASSWORD)
        return client


def sign_in(client, username: str, password: str, follow: bool = False):
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_from(page.text)},
                       follow_redirects=follow)


def page_csrf(client, path: str = "/console/") -> str:
    """The session's CSRF token, as a page the client can open shows it."""
    return csrf_from(client.get(path).text)


@pytest.fixture
def staff(app, session):
    return Staff(app, session)


# -- the issuer and the development identity provider on real HTTP servers -------------------

import contextlib  # noqa: E402
import re as _re  # noqa: E402
import threading  # noqa: E402

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

import idp  # noqa: E402
from issuer import create_app  # noqa: E402
from tests.testkit import free_port  # noqa: E402

CLIENT_ID = "vexe-issuer"
CLIENT_SECRET = "s3cret-for-tests-only"


class Served:
    """A WSGI app on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app, port: int):
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


class EidWorld:
    """The issuer and the e-ID provider, and a rider's browser as a requests session."""

    def __init__(self, issuer: Served, provider: Served):
        self.issuer = issuer
        self.provider = provider

    def fault(self, name: str | None) -> None:
        self.provider.app.config["FAULT"] = name

    def browser(self) -> requests.Session:
        return requests.Session()

    def start(self, browser: requests.Session) -> str:
        """Sign-in up to the provider's chooser; returns the authorization URL."""
        response = browser.get(f"{self.issuer.url}/signin", allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def choose(self, browser: requests.Session, authorize_url: str, sub: str) -> str:
        """Pick a citizen at the provider; returns the callback URL it sends the browser to."""
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text
        token = _re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = browser.post(authorize_url, data={"csrf_token": token, "sub": sub},
                                allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def sign_in(self, browser: requests.Session, sub: str) -> requests.Response:
        callback = self.choose(browser, self.start(browser), sub)
        return browser.get(callback, allow_redirects=False, timeout=30)


@contextlib.contextmanager
def served_eid_world(initialised, host: str = "127.0.0.1"):
    """The issuer and an e-ID provider, each on a free port; the browser reaches the issuer
    as ``host`` (a name other than 127.0.0.1 is for a browser that resolves it there)."""
    issuer_port, provider_port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    provider = Served(idp.create_app({
        "ISSUER": provider_url,
        "CLIENTS": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                     "redirect_uris": [f"http://{host}:{issuer_port}/signin/callback"]}]}),
        provider_port)
    issuer = Served(create_app({**initialised, "OIDC_ISSUER": provider_url,
                                "OIDC_CLIENT_ID": CLIENT_ID,
                                "OIDC_CLIENT_SECRET": CLIENT_SECRET}), issuer_port)
    issuer.url = f"http://{host}:{issuer_port}"
    try:
        yield EidWorld(issuer, provider)
    finally:
        issuer.stop()
        provider.stop()


@pytest.fixture
def eid_world(initialised):
    with served_eid_world(initialised) as world:
        yield world
