"""Who may call what: no token and unknown tokens are 401; riders are 403 on operator
endpoints and on other riders' passes. Operator roles are tested in tests/identity."""

import pytest

from shared import keys

OPERATOR_ONLY = [
    ("POST", "/api/routes", {"code": "99", "name": "x"}),
    ("GET", "/api/routes", None),
    ("POST", "/api/accounts", {"full_name": "X", "birth_date": "1990-01-01"}),
    ("POST", "/api/passes", {"account_id": "X", "product": "multi"}),
    ("POST", "/api/passes/{pid}/revoke", {"reason": "because"}),
    ("POST", "/api/keys/rotate", None),
    ("GET", "/api/keys", None),
]

PASS_ENDPOINTS = [
    ("GET", "/api/passes/{pid}", None),
    ("POST", "/api/passes/{pid}/device",
     {"public_key": keys.device_public_compressed(keys.new_device_key())}),
    ("POST", "/api/passes/{pid}/credential", None),
    ("POST", "/api/passes/{pid}/custodial", None),
    ("GET", "/api/passes/{pid}/qr", None),
]


@pytest.fixture
def two_riders(api):
    """Two riders, each with a pass: (token, pass) twice."""
    return api.rider_pass(), api.rider_pass()


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic b3A6b3A="])
def test_missing_or_unknown_token_is_401(api, two_riders, header):
    (_, p), _ = two_riders
    headers = {"Authorization": header} if header else {}
    for method, path, body in OPERATOR_ONLY + PASS_ENDPOINTS:
        response = api.call(method, path.format(pid=p["id"]), token=None, json=body,
                            headers=dict(headers))
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
        assert "token" in response.get_json()["error"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY)
def test_rider_on_operator_endpoints_is_403(api, two_riders, method, path, body):
    (token, p), _ = two_riders
    response = api.call(method, path.format(pid=p["id"]), token=token, json=body)
    assert response.status_code == 403
    assert response.get_json()["error"].startswith("this needs the role ")


@pytest.mark.parametrize(("method", "path", "body"), PASS_ENDPOINTS)
def test_rider_on_another_riders_pass_is_403(api, two_riders, method, path, body):
    (token, _), (_, other) = two_riders
    response = api.call(method, path.format(pid=other["id"]), token=token, json=body)
    assert response.status_code == 403
    assert response.get_json()["error"] == "this pass belongs to another account"
    assert api.ok("GET", f"/api/passes/{other['id']}")["device"] is None


def test_rider_sees_own_pass(api, two_riders):
    (token, p), _ = two_riders
    assert api.ok("GET", f"/api/passes/{p['id']}", token=token) == p


def test_rider_asking_for_an_unknown_pass_is_404(api, two_riders):
    (token, _), _ = two_riders
    assert api.call("GET", "/api/passes/ZZZZZZZZZZ", token=token).status_code == 404


def test_public_endpoints_need_no_token(client):
    for path in ("/.well-known/jwks.json", "/denylist.json", "/healthz"):
        assert client.get(path).status_code == 200
