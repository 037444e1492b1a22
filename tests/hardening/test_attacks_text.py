"""Text that is not text: a lone surrogate ("\\ud800", which JSON can spell but UTF-8 can't
hold) or a NUL character (which PostgreSQL text refuses), in any field of any JSON body, in
a form field, a query or a path. Every such request is a 400 that names the field (or a
401/403/404 for a caller who may not get that far), never a 500.

The sweep goes over every write of the JSON API as the OpenAPI document describes it (each
field of each body in turn), as the administrator and as a rider, on PostgreSQL, where the
driver's encoding error was a 500.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.api.openapi import DOCUMENT
from tests.testkit import scratch_database

SURROGATE, NUL = "\ud800", "\x00"


@pytest.fixture
def database_url(tmp_path):
    """PostgreSQL only: its driver is the one that failed to encode a lone surrogate."""
    with scratch_database("postgresql", tmp_path) as url:
        yield url


def _resolve(schema: dict) -> dict:
    """The schema a ``$ref`` points at, in the document's components."""
    ref = schema.get("$ref")
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


# Bodies the sweep cannot reach unsigned: each is refused (403) before it is read, and its
# own tests send such text signed (tests/payments/test_bank_transfers.py).
SIGNED = {"/api/payments/bank-notifications": "signed by the bank (HMAC over the body)"}


def _writes() -> list[tuple[str, str, dict]]:
    """(path template, method, body schema) of every JSON body the API takes."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        if path in SIGNED:
            continue
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                found.append((path, method.upper(), _resolve(body["schema"])))
    return found


WRITES = _writes()
FIELDS = [(path, method, name) for path, method, schema in WRITES
          for name in schema.get("properties", {})]


def _plausible(schema: dict, name: str, world: dict) -> dict:
    """A body that gets as far as the database: every required field with a likely value."""
    likely = {"product": "multi", "month": "2099-01", "category": "elderly", "reason": "lost",
              "amount_vnd": 200_000, "evidence_note": "a card", "public_key": "A" * 44,
              "birth_date": "1990-05-01", "full_name": "Nguyễn Văn An", "code": "99",
              "name": "Giáp Bát - Nhổn", "account_id": world["account_id"]}
    return {field: likely.get(field, "x") for field in schema.get("required", [])
            if field != name}


def _schema(path: str, method: str) -> dict:
    return next(s for p, m, s in WRITES if (p, m) == (path, method))


def test_the_sweep_reaches_every_field():
    """The sweep reads the document's bodies: a change of how they are written must not
    leave it with nothing to send."""
    assert len(WRITES) >= 15 and len(FIELDS) >= 25
    assert ("POST", "/api/routes", "code") in {(m, p, n) for p, m, n in FIELDS}


@pytest.fixture
def world(api):
    """Ids for every path parameter: a pass, an order, an application, an alert."""
    api.route()
    token, issued = api.rider_pass("multi")
    month = api.ok("GET", "/api/catalogue", token=None)["months_on_sale"][-1]
    order = api.ok("POST", "/api/orders", token=token, json={"product": "multi", "month": month})
    return {"token": token, "ids": {"pass_id": issued["id"], "order_id": order["id"],
                                    "application_id": "NOAPP", "alert_id": "1",
                                    "kid": "NOKEY"}, "account_id": issued["account_id"]}


def _fill(path: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def _send(api, world, path: str, method: str, body: dict, who: str):
    token = "operator" if who == "operator" else world["token"]
    return api.call(method, _fill(path, world["ids"]), token=token, json=body)


def _refused_as_text(responses: list, name: str) -> None:
    """No 500 and nothing done; whoever may call the route is told which field is wrong."""
    for response in responses:
        assert response.status_code in (400, 401, 403, 404, 409), \
            (response.status_code, response.get_data(as_text=True))
    messages = [r.get_json()["error"] for r in responses if r.status_code == 400]
    assert any(name in m and "text" in m for m in messages), messages


@pytest.mark.parametrize("bad", [SURROGATE, f"ok{NUL}"], ids=["surrogate", "nul"])
@pytest.mark.parametrize(("path", "method", "name"), FIELDS,
                         ids=[f"{m} {p} {n}" for p, m, n in FIELDS])
def test_every_field_of_every_body_refuses_what_is_not_text(api, world, path, method, name,
                                                            bad):
    body = {**_plausible(_schema(path, method), name, world), name: bad}
    _refused_as_text([_send(api, world, path, method, body, who)
                      for who in ("operator", "rider")], repr(name))


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in WRITES])
def test_a_field_name_that_is_not_text_is_refused(api, world, path, method):
    _refused_as_text([_send(api, world, path, method, {f"x{SURROGATE}": 1}, who)
                      for who in ("operator", "rider")], "name")


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(categories=["Cs", "Cc", "Lu", "Ll", "Nd", "Zs"]),
                    min_size=1, max_size=8),
       where=st.sampled_from([("/api/passes", "account_id"), ("/api/passes", "product"),
                              ("/api/free-passes", "category"),
                              ("/api/applications", "category"), ("/api/routes", "name"),
                              ("/api/accounts", "full_name")]))
def test_no_text_is_a_500(api, world, text, where):
    """What the fuzzer found, and its neighbours: any mix of letters, controls and lone
    surrogates in the fields that reached the database is a 4xx, never a 500."""
    path, name = where
    body = {**_plausible(_schema(path, "POST"), name, world), name: text}
    for who in ("operator", "rider"):
        response = _send(api, world, path, "POST", body, who)
        assert response.status_code < 500, (response.status_code, response.get_json())


def test_a_nul_in_a_query_is_refused(api):
    _refused_as_text([api.call("GET", "/api/orders?q=a%00")], "'q'")


def test_a_nul_in_a_form_is_refused(client):
    page = client.post("/console/login", data="username=a%00&password=x",
                       content_type="application/x-www-form-urlencoded",
                       headers={"Accept-Language": "en"})
    assert page.status_code == 400 and "&#39;username&#39; is not text" in page.text
    page = client.post("/console/login", data="username=a%00&password=x",
                       content_type="application/x-www-form-urlencoded",
                       headers={"Accept-Language": "vi"})
    assert page.status_code == 400 and "&#39;username&#39; không phải là văn bản" in page.text


def test_bytes_that_are_not_utf8_in_a_query_are_replaced_not_a_500(api):
    """werkzeug decodes a query with replacement characters: an encoded surrogate is text."""
    assert api.call("GET", "/api/orders?q=a%ED%A0%80").status_code == 200
