"""Fixtures for identity, roles and the pass lifecycle: the issuer's own fixtures (an
initialised issuer on SQLite and PostgreSQL, its client and command line), plus operators
with roles, signed in on the web or holding API tokens."""

from __future__ import annotations

import re

import pytest

from issuer import operators
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
        return operators.create(self.session, username, roles, now=clock.now(), password=password)

    def token(self, username: str, role: str) -> str:
        """A new operator holding ``role``, and an API token scoped to it."""
        if self.session.scalar(operators.sa.select(operators.Operator.id)
                               .where(operators.Operator.username == username)) is None:
            self.create(username, role)
        return operators.issue_token(self.session, username, role, now=clock.now())[1]

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
