"""The administrator's console: the issuer on SQLite (the pages call services tested on both
databases), an administrator signed in on the web, and helpers to post a page's form."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.models import AuditEntry
from tests.identity.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    Staff,
    api,
    app,
    client,
    config,
    initialised,
    page_csrf,
    session,
    staff,
)


@pytest.fixture
def database_url(tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


class Admin:
    """A browser (Flask test client) signed in as an administrator, in English unless asked."""

    def __init__(self, client, app):
        self.client = client
        self.app = app
        self.client.set_cookie("vexe_lang", "en")

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        """Post ``data`` with the session's CSRF token (unless ``csrf`` is False)."""
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = page_csrf(self.client, "/console/")
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def admin(staff, app):
    return Admin(staff.browser("quan-tri", "administrator"), app)


@pytest.fixture
def clerk(staff, app):
    return Admin(staff.browser("thu-ngan", "clerk"), app)


def audit_entries(app, action: str) -> list[AuditEntry]:
    with db.session(app.config["DATABASE_URL"]) as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))
