"""Operators in the administrator's console: add, roles, disable, API tokens (shown once)."""

from __future__ import annotations

import re

from issuer.identity import operators
from issuer.platform import db
from tests.admin.conftest import audit_entries
from tests.identity.conftest import PASSWORD


def operator(app, username: str):
    with db.session(app.config["DATABASE_URL"]) as s:
        try:
            return operators.as_dict(operators.get(s, username))
        except Exception:
            return None


def test_add_an_operator(admin, app):
    done = admin.post("/console/admin/operators/", {"username": "duyet-2", "roles": ["approver",
                                                                                      "analyst"],
                                                     "password": PASSWORD})
    assert done.status_code == 303
    assert operator(app, "duyet-2")["roles"] == ["approver", "analyst"]
    [entry] = audit_entries(app, "operator.create")
    assert entry.actor == "quan-tri" and entry.target == "duyet-2"
    page = admin.get(done.headers["Location"])
    assert "Operator duyet-2 added." in page.text and "free-pass approver" in page.text


def test_bad_input_is_said_kept_and_nothing_added(admin, app):
    for data, said in (({"username": "Bad Name!", "roles": ["clerk"]}, "username must be"),
                       ({"username": "no-roles"}, "give one or more roles"),
                       ({"username": "short-pw", "roles": ["clerk"], "password": "short"},
                        "password must be"),
                       ({"username": "quan-tri", "roles": ["clerk"]}, "already exists")):
        page = admin.post("/console/admin/operators/", data)
        assert page.status_code in (400, 409) and said in page.text, data
        assert f'value="{data["username"]}"' in page.text
    assert operator(app, "no-roles") is None and operator(app, "short-pw") is None
    assert audit_entries(app, "operator.create") == []


def test_roles_token_shown_once_revoke_disable(admin, staff, app, client):
    staff.create("ban-ve", "clerk")
    page = admin.post("/console/admin/operators/ban-ve/roles", {"roles": ["clerk", "analyst"]})
    assert page.status_code == 303 and operator(app, "ban-ve")["roles"] == ["clerk", "analyst"]
    assert audit_entries(app, "operator.roles")[0].target == "ban-ve"

    issued = admin.post("/console/admin/operators/ban-ve/tokens", {"role": "analyst"})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code id="token">([^<]+)</code>', issued.text).group(1)
    assert client.get("/api/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in admin.get("/console/admin/operators/ban-ve").text  # shown once
    assert audit_entries(app, "operator.token")[0].target == "ban-ve"
    token_id = int(re.search(r'data-token="(\d+)"', issued.text).group(1))

    wrong = admin.post("/console/admin/operators/ban-ve/tokens", {"role": "administrator"})
    assert wrong.status_code == 400 and "does not have the role" in wrong.text
    assert admin.post(f"/console/admin/operators/quan-tri/tokens/{token_id}/revoke").status_code == 400
    assert admin.post(f"/console/admin/operators/ban-ve/tokens/{token_id}/revoke").status_code == 303
    assert client.get("/api/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert audit_entries(app, "operator.revoke_token")[0].target == str(token_id)

    none = admin.post("/console/admin/operators/ban-ve/disable", {"reason": ""})
    assert none.status_code == 400 and "say why the operator is disabled" in none.text
    assert not operator(app, "ban-ve")["disabled"]
    assert admin.post("/console/admin/operators/ban-ve/disable",
                      {"reason": "left the company"}).status_code == 303
    assert operator(app, "ban-ve")["disabled"]
    assert audit_entries(app, "operator.disable")[0].reason == "left the company"


def test_no_disabling_oneself_wrong_role_no_csrf(admin, clerk, app):
    self_ = admin.post("/console/admin/operators/quan-tri/disable", {"reason": "oops"})
    assert self_.status_code == 400 and "you cannot disable yourself" in self_.text
    assert clerk.post("/console/admin/operators/", {"username": "sneaky", "roles": ["administrator"],
                                                    "password": PASSWORD}).status_code == 403
    assert admin.post("/console/admin/operators/", {"username": "sneaky", "roles": ["clerk"]},
                      csrf=False).status_code == 400
    assert operator(app, "sneaky") is None
    assert clerk.get("/console/admin/operators/quan-tri").status_code == 403
