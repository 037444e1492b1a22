"""The served OpenAPI document: it names every /api route, and schemathesis, sending what it
allows (and what it does not) as an administrator and as a rider, never gets a 5xx."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from issuer.openapi import DOCUMENT


def test_every_api_route_is_documented(app):
    documented = {path for path in DOCUMENT["paths"]}
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<", "{").replace(">", "}")
        if not path.startswith("/api/") or path.startswith("/api/ridership"):
            continue  # ridership documents its own API
        assert path in documented, path


def test_no_server_error(app, api):
    """Each operation, a few generated requests (valid and not), as two callers."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    tokens = [app.config["OPERATOR_TOKEN"], api.account()["rider_token"]]
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses = []
    assert len(operations) >= 30

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case):
            for token in tokens:
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                assert response.status_code < 500, (case.method, case.path, response.text)
                statuses.append(response.status_code)

        run()
    # The run really reached the app, and got past the gates as well as refused.
    assert len(statuses) >= 2 * len(operations)
    assert {200, 400, 403, 404} <= set(statuses)
