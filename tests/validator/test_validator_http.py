"""POST /scan, GET /status, GET /healthz."""

import json
from pathlib import Path

import pytest

from shared import clock
from validator_testkit import http_client


@pytest.fixture
def validator(make_validator):
    return make_validator(validator_id="H1", vehicle="29B-777")


@pytest.fixture
def client(validator):
    return http_client(validator)


def test_scan_returns_the_decision_and_the_trip_id(client, validator, issuer):
    now = clock.now()
    response = client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)})
    assert response.status_code == 200
    body = response.get_json()
    assert body["decision"] == "accept" and body["reason"] == "ok"
    assert body["message"] == {"vi": "Hợp lệ. Mời lên xe", "en": "Valid. Welcome aboard"}
    assert body["pass"]["product"] == "single"
    [trip] = validator.journal.trips()
    assert body["trip_id"] == trip.id


def test_a_refusal_is_an_answer_not_an_error(client, validator):
    response = client.post("/scan", json={"qr": "VX1:not really"})
    assert response.status_code == 200
    assert response.get_json()["reason"] == "malformed"
    assert len(validator.journal) == 1


def test_json_without_a_content_type_is_still_a_scan(client, validator):
    response = client.post("/scan", data='{"qr": "junk"}')
    assert response.status_code == 200 and response.get_json()["reason"] == "malformed"


@pytest.mark.parametrize("body, message", [
    ("VX1:ABC", "JSON object"),
    ("{\"qr\": ", "JSON object"),
    ("[\"VX1:ABC\"]", "JSON object"),
    ("null", "JSON object"),
    ("\"VX1:ABC\"", "JSON object"),
    ("{}", "no \"qr\""),
    ("{\"QR\": \"VX1:ABC\"}", "no \"qr\""),
    ("{\"qr\": 42}", "must be a string"),
    ("{\"qr\": null}", "must be a string"),
    ("{\"qr\": [\"VX1:ABC\"]}", "must be a string"),
    (b"\xff\xfe{", "JSON object"),
])
def test_malformed_bodies_are_400_and_journal_nothing(client, validator, body, message):
    response = client.post("/scan", data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert len(validator.journal) == 0


def test_an_oversized_body_is_413_with_a_message(client, validator):
    response = client.post("/scan", json={"qr": "A" * 100_000})
    assert response.status_code == 413
    assert response.get_json()["error"]
    assert len(validator.journal) == 0


def test_wrong_method_and_unknown_path_answer_json(client):
    assert client.get("/scan").status_code == 405
    response = client.get("/nothing")
    assert response.status_code == 404 and "error" in response.get_json()


def test_status_and_health(client, validator):
    validator.set_position(validator.route, "S1")
    client.post("/scan", json={"qr": "junk"})
    status = client.get("/status").get_json()
    assert status == {"validator": "H1", "vehicle": "29B-777", "company": None, "route": "32",
                      "stop": "S1", "stop_by": "manual", "mode": "board", "stops_known": 0,
                      "storage": "ok", "backlog": 1,
                      "trust_list_size": 1, "denylist_size": 0, "last_push_at": None,
                      "last_pull_at": None, "last_error": "sync is off", "online": False,
                      "clock_offset": None, "clock_offset_applied": 0.0,
                      "clock_checked_at": None, "clock_state": "unchecked",
                      "clock_step": None}
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"ok": True, "storage": "ok"}


def test_position_changes_route_and_stop(client, validator, issuer):
    assert client.post("/position", json={"stop": "S4"}).get_json() == {"route": "32",
                                                                         "stop_by": "manual",
                                                                         "stop": "S4"}
    assert client.post("/position", json={"route": "09", "stop": None}).get_json() == {
        "route": "09", "stop": None, "stop_by": None}
    now = clock.now()
    body = client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)}).get_json()
    assert body["reason"] == "wrong_route"
    [trip] = validator.journal.trips()
    assert (trip.route, trip.stop) == ("09", None)


@pytest.mark.parametrize("body", ["{}", "[]", "nope", "{\"route\": \"\"}", "{\"route\": 9}",
                                  "{\"stop\": 5}", "{\"vehicle\": \"X\"}"])
def test_bad_position_is_400_and_changes_nothing(client, validator, body):
    response = client.post("/position", data=body)
    assert response.status_code == 400 and response.get_json()["error"]
    assert (validator.route, validator.stop) == ("32", None)


@pytest.mark.parametrize("name", ["malformed-claim-lone-surrogate",
                                  "malformed-claim-lone-surrogate-jti",
                                  "malformed-claim-control-character"])
def test_a_signed_claim_no_text_can_hold_is_a_journaled_refusal(make_validator, issuer, name):
    """A credential whose claims spell "\\ud800" or a NUL (tests/vectors/cases.json), signed
    by a trusted key: refused as malformed and journaled; the next scan is decided as ever."""
    vectors = Path(__file__).resolve().parents[1] / "vectors"
    [vector] = [case for case in json.loads((vectors / "cases.json").read_text())["cases"]
                if case["name"] == name]
    validator = make_validator(validator_id="H2", trusted=False)
    validator.lists.update_trust((vectors / "jwks.json").read_text())
    client = http_client(validator)
    response = client.post("/scan", json={"qr": vector["qr"]})
    assert response.status_code == 200
    assert (response.get_json()["reason"], response.get_json()["pass"]) == ("malformed", None)
    [trip] = validator.journal.trips()
    assert (trip.reason, trip.pass_id) == ("malformed", None)
    validator.lists.update_trust(issuer.trust.dumps())
    now = clock.now()
    assert client.post("/scan", json={"qr": issuer.rider(now=now).qr(now)}).get_json()[
        "reason"] == "ok"
    assert client.get("/status").status_code == 200
