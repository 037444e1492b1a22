"""Every API route, found from the URL map so that a route added later is swept too: without a
credential it is a 401 (unless the OpenAPI document says it is public), and the ridership
API refuses riders. Never a 2xx for the wrong caller, never a 5xx."""

from __future__ import annotations

import re

import pytest

from issuer.api.openapi import DOCUMENT

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'vexe.db'}"


def api_routes(app) -> list[tuple[str, str, str]]:
    """(method, path to call, rule) for every /api route."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<int:[a-z_]+>", "1", rule.rule)
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "X1", path)
        out += [(method, path, rule.rule) for method in METHODS if method in rule.methods]
    return sorted(out)


def public(rule: str, method: str) -> bool:
    path = rule.replace("<", "{").replace(">", "}")
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower(), {})
    return operation.get("security") == []


def test_no_credential_is_401_everywhere_but_the_public_routes(app):
    client = app.test_client()
    routes = api_routes(app)
    assert len(routes) >= 35
    wrong = []
    for method, path, rule in routes:
        if public(rule, method):
            continue
        response = client.open(path, method=method, json={})
        if response.status_code != 401 or "WWW-Authenticate" not in response.headers:
            wrong.append((method, rule, response.status_code))
    assert wrong == []


def test_a_wrong_token_is_401_everywhere(app):
    client = app.test_client()
    wrong = [(method, rule, status) for method, path, rule in api_routes(app)
             if not public(rule, method)
             and (status := client.open(path, method=method, json={}, headers={
                 "Authorization": "Bearer not-a-token"}).status_code) != 401]
    assert wrong == []


def test_riders_get_nothing_from_the_operators_apis(app, api):
    """The ridership tables, the audit log, keys, operators' views of passes and accounts."""
    token = api.account()["rider_token"]
    client = app.test_client()
    checked, wrong = 0, []
    for method, path, rule in api_routes(app):
        if not rule.startswith(("/api/ridership", "/api/audit", "/api/keys", "/api/routes")) \
                or (rule == "/api/routes" and method == "GET"):
            continue
        checked += 1
        status = client.open(path, method=method, json={},
                             headers={"Authorization": f"Bearer {token}"}).status_code
        if status != 403:
            wrong.append((method, rule, status))
    assert checked >= 8 and wrong == []
