"""The served OpenAPI document: it names every /api route and only those, its bodies are the
shapes the views read, and schemathesis, sending what it allows and what it forbids as an
administrator and as a rider, never gets a 5xx, gets only documented statuses and bodies, and
never has forbidden data accepted, on the ridership tables as everywhere else."""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               negative_data_rejection,
                                               response_schema_conformance,
                                               status_code_conformance)

from issuer.api.ridership import TABLES
from issuer.api.openapi import DOCUMENT

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# /api routes left out of the document on purpose, with why. None today: a route added to the
# app must be described, or named here.
EXCLUDED: dict[tuple[str, str], str] = {}


def served_operations(app) -> set[tuple[str, str]]:
    """(method, path as the document writes it) for every /api route of the app."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        # One rule serves every console table: the document gives each table its own path,
        # with its own parameters.
        paths = ([path.replace("{name}", t) for t in TABLES]
                 if path == "/api/ridership/{name}" else [path])
        out |= {(m, p) for m in rule.methods & METHODS for p in paths}
    return out


def documented_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in DOCUMENT["paths"].items()
            for method in item}


def test_every_api_route_is_documented(app):
    served = served_operations(app)
    assert len(served) >= 45
    assert served - documented_operations() - set(EXCLUDED) == set()
    assert set(EXCLUDED) <= served  # an exclusion outliving its route goes too


def test_the_document_names_no_route_the_app_lacks(app):
    assert documented_operations() - served_operations(app) == set()


def test_the_credential_as_documented(api, device):
    """The answer's fields are the Credential schema's, qr_body_head among them."""
    from shared import keys

    token, p = api.rider_pass()
    schema = DOCUMENT["components"]["schemas"]["Credential"]
    jwk = keys.device_public_jwk(device) if hasattr(keys, "device_public_jwk") else None
    public_key = jwk or keys.device_public_compressed(device)
    bound = api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                   json={"public_key": public_key})
    fresh = api.ok("POST", f"/api/passes/{p['id']}/credential", token=token)
    assert set(fresh) == set(schema["properties"]) == set(schema["required"])
    assert set(schema["required"]) <= set(bound)
    assert fresh["qr_body_head"]


def test_a_device_key_may_be_a_point_or_a_jwk():
    schemas = DOCUMENT["components"]["schemas"]
    body = DOCUMENT["paths"]["/api/passes/{pass_id}/device"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    key = schemas[ref.rsplit("/", 1)[1]]["properties"]["public_key"]
    point, jwk = key["anyOf"]
    assert point["type"] == "string"
    assert schemas[jwk["$ref"].rsplit("/", 1)[1]]["required"] == ["kty", "crv", "x", "y"]


@pytest.mark.parametrize("body, message", [
    (b'{"code": "32", "name": "Kim Ma", "colour": "red"}', "unknown field 'colour'"),
    (b'{"name": "Kim Ma"}', "field 'code' is required"),
    (b'{"code": 32, "name": "Kim Ma"}', "field 'code' must be a string"),
    (b'{"code": "' + b"1" * 17 + b'", "name": "Kim Ma"}', "route code must be 1 to 16 "
                                                          "letters"),
    (rb'{"code": "32", "name": "Kim\u0000Ma"}', "field 'name' is not text"),
    (rb'{"code": "32", "name": "\ud800"}', "lone surrogate"),
    (b"[" * 20_000, "not valid JSON"),
    (b'["32"]', "must be a JSON object"),
])
def test_a_body_not_the_shape_is_refused_with_why(api, body, message):
    """The shape the document shows is the one the server holds a body to."""
    response = api.call("POST", "/api/routes", data=body,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert message in response.json["error"]
    assert api.ok("GET", "/api/routes")["routes"] == []  # nothing added


@pytest.mark.parametrize("path", [
    "/api/ridership/hourly?date=0001-01-01",
    "/api/ridership/hourly?date=9999-12-31",
    "/api/ridership/routes?from=9999-12-31&to=9999-12-31",
    "/api/ridership/stops?route=%00",
    "/api/ridership/passes/%00/history",
    "/api/passes/%00",
])
def test_values_at_the_edges_are_refused_not_failed(api, path):
    """Dates at the calendar's ends (a week before year 1 is no date), a NUL character
    (PostgreSQL text holds none): a 400 or 404 with a message, never a 500."""
    response = api.call("GET", path)
    assert response.status_code in (200, 400, 404), (path, response.text)
    assert response.status_code != 200 or api.client.application.config[
        "DATABASE_URL"].startswith("sqlite"), response.text  # SQLite stores NUL: no match


@pytest.mark.parametrize("alert_id", [2**31, 10**30])
def test_an_alert_id_past_the_column_is_404(api, alert_id):
    response = api.call("POST", f"/api/ridership/alerts/{alert_id}/dismiss", json={})
    assert response.status_code == 404, response.text


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_answers_as_documented(app, api, mode):
    """Each operation, a few generated requests, as two callers: no 5xx; every status, media
    type and body as the document says; what the document forbids is refused."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    tokens = [app.config["OPERATOR_TOKEN"], api.account()["rider_token"]]
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: dict[tuple[str, str], list[int]] = {}
    assert {(op.method.upper(), op.path) for op in operations} == documented_operations()

    for operation in operations:
        seen = statuses.setdefault((operation.method.upper(), operation.path), [])

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case):
            for token in tokens:
                headers = {"Authorization": f"Bearer {token}"}
                response = case.call(headers=headers)
                checks = CHECKS + ([negative_data_rejection]
                                   if mode is GenerationMode.NEGATIVE else [])
                case.validate_response(response, checks=checks, headers=headers)
                seen.append(response.status_code)

        try:
            run()
        except Unsatisfiable:  # nothing to break: no parameters, no body
            assert mode is GenerationMode.NEGATIVE, operation.path
    # The run really reached the app, and got past the gates as well as refused.
    everything = [s for seen in statuses.values() for s in seen]
    assert len(everything) >= 2 * len(operations)
    assert ({200, 400, 403, 404} if mode is GenerationMode.POSITIVE else {400}) \
        <= set(everything)
    if mode is GenerationMode.NEGATIVE:
        return
    # Every console table answered the administrator, and refused the rider.
    for name in TABLES:
        seen = statuses[("GET", f"/api/ridership/{name}")]
        assert 200 in seen and 403 in seen, (name, seen)
