"""Fixtures for the issuer's tests: an initialised issuer on each database, its HTTP client,
its command line, and helpers that act as the operator and as riders."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from issuer import bootstrap, create_app
from issuer.platform import db, settings
from issuer import upkeep_cli
from issuer.cli import commands
from shared import clock, keys


@pytest.fixture
def config(tmp_path, database_url, redis_url):
    """Settings of an issuer whose secrets live in files under its data directory."""
    yield {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
           "REDIS_URL": redis_url}
    db.dispose()  # before the database fixture drops the schema


@pytest.fixture
def initialised(config, schema_templates):
    """``vexe init`` done, as the operator would before anything else (its migrations by a
    copy of a database they made: tests/issuer/test_init.py runs them)."""
    schema_templates.migrate(config["DATABASE_URL"])
    bootstrap.init(settings.load(config), now=clock.now())
    return config


@pytest.fixture
def app(initialised):
    return create_app({**initialised, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    with db.session(app.config["DATABASE_URL"]) as s:
        yield s


class Api:
    """Calls the HTTP API as the operator (default) or with a given token."""

    def __init__(self, client, operator_token: str):
        self.client = client
        self.operator_token = operator_token

    def call(self, method: str, path: str, *, token: str | None = "operator", **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            bearer = self.operator_token if token == "operator" else token
            headers["Authorization"] = f"Bearer {bearer}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs) -> dict:
        response = self.call(method, path, **kwargs)
        assert response.status_code in (200, 201), (response.status_code, response.get_json())
        return response.get_json()

    def route(self, code: str = "32", name: str = "Giáp Bát - Nhổn") -> dict:
        return self.ok("POST", "/api/routes", json={"code": code, "name": name})

    def account(self, full_name: str = "Nguyễn Văn An", birth_date: str = "1990-05-01") -> dict:
        return self.ok("POST", "/api/accounts",
                       json={"full_name": full_name, "birth_date": birth_date})

    def issue(self, account_id: str, product: str = "multi", **fields) -> dict:
        return self.ok("POST", "/api/passes",
                       json={"account_id": account_id, "product": product, **fields})

    def rider_pass(self, product: str = "multi", **fields) -> tuple[str, dict]:
        """A new account with one pass: the rider's token and the pass."""
        account = self.account()
        return account["rider_token"], self.issue(account["id"], product, **fields)

    def jwks(self) -> dict:
        return self.ok("GET", "/.well-known/jwks.json", token=None)


@pytest.fixture
def api(app, client):
    return Api(client, app.config["OPERATOR_TOKEN"])


@pytest.fixture
def device():
    """A phone's device key pair."""
    return keys.new_device_key()


@pytest.fixture
def bound(api, device):
    """A rider's pass on a phone: (rider token, pass id)."""
    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    return token, p["id"]


@pytest.fixture
def cli(initialised):
    """Runs ``vexe`` commands against the initialised issuer; see :class:`Cli`."""
    return Cli(initialised)


@pytest.fixture
def bare_cli(config):
    """Runs ``vexe`` commands against an issuer not yet initialised."""
    return Cli(config)


class Cli:
    def __init__(self, config: dict):
        self.env = {"VEXE_DATA_DIR": config["DATA_DIR"],
                    "VEXE_DATABASE_URL": config["DATABASE_URL"],
                    "VEXE_REDIS_URL": config["REDIS_URL"]}
        self.group = click.Group("vexe", commands={c.name: c for c in
                                                    [*commands, *upkeep_cli.commands]})

    def run(self, *args: str, env: dict | None = None):
        runner = CliRunner()
        return runner.invoke(self.group, [str(a) for a in args], env={**self.env, **(env or {})})

    def ok(self, *args: str, env: dict | None = None):
        result = self.run(*args, env=env)
        assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
        return result

    def json(self, *args: str, env: dict | None = None):
        return json.loads(self.ok(*args, env=env).stdout)

    def fails(self, *args: str, code: int = 2, env: dict | None = None) -> str:
        """Runs a command that must fail; returns its one line of error."""
        result = self.run(*args, env=env)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vexe: "), result.stderr
        return lines[0]
