"""Operators: roles, scoped API tokens, web sign-in at /console/login, and the audit log."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.platform import audit
from issuer.identity import sessions
from issuer.platform.models import AuditEntry, Operator, OperatorToken, WebSession
from tests.identity.conftest import PASSWORD, csrf_from, page_csrf, sign_in

ROLES = ["clerk", "approver", "administrator", "analyst"]


def audit_actions(session, target=None) -> list[tuple[str, str, str | None]]:
    session.expire_all()
    return [(e.actor, e.action, e.reason) for e in reversed(audit.entries(session, target=target))]


class TestTokens:
    def test_bootstrap_token_is_an_administrator(self, api, session):
        """The token `vexe init` writes works as operator bootstrap's administrator token,
        and is audited under that name."""
        api.route("32")
        assert audit_actions(session, "32") == [("bootstrap", "route.add", None)]

    def test_bootstrap_token_is_listed_and_revoked_like_any_other(self, api, cli):
        """A stolen operator.token is revoked by its id, and `vexe init` run again (as after
        an upgrade) never brings it back."""
        [listed] = cli.json("operator", "tokens")
        assert listed == {"token_id": listed["token_id"], "username": "bootstrap",
                          "role": "administrator", "created_at": listed["created_at"],
                          "revoked_at": None}
        assert cli.json("init")["operator_token_id"] == listed["token_id"]
        assert api.call("GET", "/api/routes").status_code == 200
        cli.ok("operator", "revoke-token", listed["token_id"])
        assert api.call("GET", "/api/routes").status_code == 401
        again = cli.json("init")
        assert again["changed"] is False and again["operator_token_id"] == listed["token_id"]
        assert api.call("GET", "/api/routes").status_code == 401
        assert cli.json("operator", "tokens", "bootstrap")[0]["revoked_at"] is not None

    @pytest.mark.parametrize("role", ROLES)
    def test_any_role_reads_routes_only_administrator_adds(self, api, staff, role):
        token = staff.token(f"op-{role}", role)
        assert api.call("GET", "/api/routes", token=token).status_code == 200
        response = api.call("POST", "/api/routes", token=token, json={"code": "9", "name": "x"})
        if role == "administrator":
            assert response.status_code == 201
        else:
            assert response.status_code == 403
            assert response.get_json()["error"] == "this needs the role administrator"
            assert api.ok("GET", "/api/routes")["routes"] == []

    def test_token_is_scoped_to_one_role(self, api, staff, session):
        """An operator with two roles holds a token for one: it grants that one only."""
        staff.create("mai", "clerk", "administrator")
        from issuer.identity import operators
        from shared import clock
        _, clerk_token = operators.issue_token(session, "mai", "clerk", now=clock.now())
        session.commit()
        response = api.call("POST", "/api/routes", token=clerk_token, json={"code": "9", "name": "x"})
        assert response.status_code == 403

    def test_token_for_a_role_not_held_is_refused(self, staff, session):
        from issuer.identity import operators
        from issuer.platform.errors import Invalid
        from shared import clock
        staff.create("lan", "clerk")
        with pytest.raises(Invalid, match="does not have the role 'administrator'"):
            operators.issue_token(session, "lan", "administrator", now=clock.now())
        assert session.scalar(sa.select(sa.func.count()).select_from(OperatorToken)) == 1  # init's

    def test_only_a_hash_of_the_token_is_stored(self, staff, session):
        token = staff.token("hoa", "analyst")
        stored = session.scalars(sa.select(OperatorToken.token_hash)).all()
        assert token not in stored and len(stored) == 2  # and the bootstrap token
        assert {len(h) for h in stored} == {64}

    def test_revoked_disabled_or_role_removed_token_is_401(self, api, staff, cli):
        token = staff.token("tuan", "analyst")
        assert api.call("GET", "/api/routes", token=token).status_code == 200
        cli.ok("operator", "roles", "tuan", "--role", "clerk")
        assert api.call("GET", "/api/routes", token=token).status_code == 401
        clerk = cli.json("operator", "token", "tuan", "--role", "clerk")
        assert api.call("GET", "/api/routes", token=clerk["token"]).status_code == 200
        cli.ok("operator", "revoke-token", clerk["token_id"])
        assert api.call("GET", "/api/routes", token=clerk["token"]).status_code == 401
        other = cli.json("operator", "token", "tuan", "--role", "clerk")
        cli.ok("operator", "disable", "tuan", "--reason", "left the company")
        assert api.call("GET", "/api/routes", token=other["token"]).status_code == 401


class TestCommandLine:
    def test_create_with_password_file_then_token(self, cli, tmp_path, app):
        secret = tmp_path / "pw"
        secret.write_text(PASSWORD + "\n")
        out = cli.json("operator", "create", "thu", "--role", "clerk", "--role", "approver",
                       "--password-file", secret)
        assert out == {"username": "thu", "roles": ["clerk", "approver"], "password_set": True,
                       "disabled": False, "created_at": out["created_at"]}
        token = cli.json("operator", "token", "thu", "--role", "approver")
        assert token["role"] == "approver" and len(token["token"]) >= 40
        client = app.test_client()
        assert sign_in(client, "thu", PASSWORD).status_code == 302
        log = cli.json("audit", "--target", "thu")
        assert [e["action"] for e in log] == ["operator.sign_in", "operator.token",
                                              "operator.create"]
        assert log[2]["actor"].startswith("cli") and log[2]["reason"] == "roles: clerk approver"

    @pytest.mark.parametrize(("args", "message"), [
        (["operator", "create", "X Y", "--role", "clerk"], "username must be"),
        (["operator", "create", "a", "--role", "clerk"], "username must be"),
        (["operator", "create", "ok", "--role", "boss"], "Invalid value for '--role'"),
        (["operator", "create", "ok"], "Missing option '--role'"),
        (["operator", "token", "nobody", "--role", "clerk"], "no operator 'nobody'"),
        (["operator", "roles", "nobody", "--role", "clerk"], "no operator 'nobody'"),
        (["operator", "revoke-token", "77"], "no operator token 77"),
    ])
    def test_bad_input_is_one_line_and_changes_nothing(self, cli, session, args, message):
        result = cli.run(*args)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert session.scalar(sa.select(sa.func.count()).select_from(Operator)) == 1  # bootstrap
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0

    def test_short_password_and_duplicate_refused(self, cli, tmp_path, session):
        short = tmp_path / "short"
        short.write_text("tooshort\n")
        assert "password must be 12" in cli.fails("operator", "create", "an", "--role", "clerk",
                                                  "--password-file", short)
        cli.ok("operator", "create", "an", "--role", "clerk")
        assert "already exists" in cli.fails("operator", "create", "an", "--role", "analyst")
        ops = [op for op in cli.json("operator", "list") if op["username"] != "bootstrap"]
        assert ops == [{"username": "an", "roles": ["clerk"], "password_set": False,
                        "disabled": False, "created_at": ops[0]["created_at"]}]

    def test_token_only_operator_cannot_sign_in_on_the_web(self, cli, app):
        cli.ok("operator", "create", "bot", "--role", "analyst")
        assert sign_in(app.test_client(), "bot", "").status_code == 401


class TestWebSignIn:
    def test_sign_in_sets_a_safe_cookie_and_opens_the_console(self, staff, app):
        staff.create("linh", "approver")
        client = app.test_client()
        response = sign_in(client, "linh", PASSWORD)
        assert response.status_code == 302 and response.location == "/console/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        home = client.get("/console/")
        # One language at a time: Vietnamese by default, the role said as a word.
        assert home.status_code == 200 and "linh" in home.text and "người duyệt" in home.text

    def test_cookie_is_secure_over_https(self, staff, app):
        staff.create("linh", "approver")
        client = app.test_client()
        page = client.get("/console/login", base_url="https://vexe.example")
        response = client.post("/console/login", base_url="https://vexe.example",
                               headers={"Referer": "https://vexe.example/console/login"},
                               data={"username": "linh", "password": PASSWORD,
                                     "csrf_token": csrf_from(page.text)})
        assert response.status_code == 302
        assert "Secure" in response.headers["Set-Cookie"]

    def test_not_signed_in_page_redirects_to_sign_in(self, client):
        response = client.get("/console/")
        assert response.status_code == 302
        assert response.location == "/console/login?next=/console/"

    def test_wrong_password_is_401_and_audited(self, staff, app, session):
        staff.create("linh", "approver")
        response = sign_in(app.test_client(), "linh", "wrong password!")
        assert response.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in response.text
        assert audit_actions(session, "linh") == [("anonymous", "operator.sign_in_failed", None)]

    def test_unknown_user_reads_like_a_wrong_password(self, app):
        response = sign_in(app.test_client(), "ghost", PASSWORD)
        assert response.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in response.text

    def test_five_failures_lock_the_username(self, staff, app):
        staff.create("linh", "approver")
        client = app.test_client()
        for _ in range(5):
            assert sign_in(client, "linh", "wrong password!").status_code == 401
        assert sign_in(client, "linh", PASSWORD).status_code == 429

    def test_sign_in_form_without_csrf_is_400(self, staff, client, session):
        staff.create("linh", "approver")
        client.get("/console/login")
        response = client.post("/console/login", data={"username": "linh", "password": PASSWORD})
        assert response.status_code == 400 and "CSRF" in response.text
        assert session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0

    @pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                        "/\\evil.example", "javascript:alert(1)"])
    def test_next_never_leaves_the_site(self, staff, app, target):
        staff.create("linh", "approver")
        client = app.test_client()
        page = client.get("/console/login")
        response = client.post("/console/login", query_string={"next": target},
                               data={"username": "linh", "password": PASSWORD,
                                     "csrf_token": csrf_from(page.text)})
        assert response.location == "/console/"

    def test_sign_out_ends_the_session_even_for_a_copied_cookie(self, staff, app, session):
        client = staff.browser("linh", "approver")
        cookie = client.get_cookie("vexe_session").value
        response = client.post("/console/logout", data={"csrf_token": page_csrf(client)})
        assert response.status_code == 302
        assert client.get("/console/").status_code == 302
        replay = app.test_client()
        replay.set_cookie("vexe_session", cookie)
        assert replay.get("/console/").status_code == 302
        assert replay.get("/api/routes").status_code == 401
        assert [a for _, a, _ in audit_actions(session, "linh")] == ["operator.sign_in",
                                                                     "operator.sign_out"]

    def test_sign_out_without_csrf_is_refused(self, staff):
        client = staff.browser("linh", "approver")
        assert client.post("/console/logout").status_code == 400
        assert client.get("/console/").status_code == 200

    def test_disabled_operator_is_signed_out(self, staff, cli):
        client = staff.browser("linh", "approver")
        cli.ok("operator", "disable", "linh", "--reason", "moved to another depot")
        assert client.get("/console/").status_code == 302

    def test_expired_session_is_refused(self, staff, session):
        client = staff.browser("linh", "approver")
        session.execute(sa.update(WebSession).values(expires_at=1))
        session.commit()
        assert client.get("/console/").status_code == 302
        assert sessions.OPERATOR_LIFETIME <= 12 * 3600


class TestSessionOnTheApi:
    def test_cookie_caller_needs_csrf_to_change_anything(self, staff, api):
        client = staff.browser("quan", "administrator")
        body = {"code": "9", "name": "Long Biên"}
        assert client.get("/api/routes").status_code == 200
        refused = client.post("/api/routes", json=body)
        assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
        assert api.ok("GET", "/api/routes")["routes"] == []
        made = client.post("/api/routes", json=body, headers={"X-CSRFToken": page_csrf(client)})
        assert made.status_code == 201

    def test_signed_in_without_the_role_is_403(self, staff):
        client = staff.browser("an", "clerk")
        response = client.post("/api/keys/rotate", headers={"X-CSRFToken": page_csrf(client)})
        assert response.status_code == 403
        assert response.get_json()["error"] == "this needs the role administrator"

    def test_administrator_may_do_everything(self, staff):
        client = staff.browser("quan", "administrator")
        assert client.get("/api/keys").status_code == 200


def test_require_roles_refuses_unknown_role_names():
    from issuer.web import auth
    with pytest.raises(ValueError):
        auth.require_roles("superuser")


def test_migration_file_is_0002():
    text = (Path(__file__).parents[2] / "issuer/platform/migrations/versions/0002_identity.py").read_text()
    assert 'revision = "0002"' in text and 'down_revision = "0001"' in text
