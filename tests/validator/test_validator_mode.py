"""Boarding and alighting, route and stop: what the bus tells the validator, through HTTP."""

import pytest

from shared import ticket
from validator_testkit import NOW, http_client
from tests.testkit import ROUTE


@pytest.fixture
def validator(make_validator):
    return make_validator(validator_id="M1", vehicle="29B-555", company="bus-co")


@pytest.fixture
def client(validator):
    return http_client(validator)


def scan(client, qr):
    response = client.post("/scan", json={"qr": qr})
    assert response.status_code == 200
    return response.get_json()


class TestMode:
    def test_the_driver_switches_the_door_and_trips_record_it(self, client, validator, issuer):
        """Each trip carries the mode in force at its scan, and the company of the vehicle."""
        rider = issuer.rider(now=NOW)
        validator.scan(rider.qr(NOW), NOW)
        assert client.post("/mode", json={"mode": "alight"}).get_json() == {"mode": "alight"}
        validator.scan(rider.qr(NOW + 600), NOW + 600)
        assert client.get("/status").get_json()["mode"] == "alight"
        boarding, alighting = validator.journal.trips()
        assert (boarding.mode, alighting.mode) == ("board", "alight")
        assert boarding.company == alighting.company == "bus-co"

    def test_passback_applies_to_boardings_only(self, make_validator, issuer):
        """The same pass a minute after boarding: refused at the front door, fine to alight."""
        validator = make_validator(passback=600)
        rider = issuer.rider(now=NOW)
        assert validator.scan(rider.qr(NOW), NOW).reason == "ok"
        assert validator.scan(rider.qr(NOW + 60), NOW + 60).reason == "passback"
        validator.set_mode("alight")
        alighting = validator.scan(rider.qr(NOW + 90), NOW + 90)
        assert alighting.reason == "ok"
        assert alighting.to_dict()["message"] == {"vi": "Hợp lệ. Hẹn gặp lại",
                                                  "en": "Valid. See you again"}

    def test_an_alighting_does_not_count_as_a_boarding_for_passback(self, make_validator,
                                                                      issuer):
        validator = make_validator(passback=600, mode="alight")
        rider = issuer.rider(now=NOW)
        assert validator.scan(rider.qr(NOW), NOW).reason == "ok"
        validator.set_mode("board")
        assert validator.scan(rider.qr(NOW + 30), NOW + 30).reason == "ok"

    @pytest.mark.parametrize("case, expected", [
        ("replay", "replayed"), ("stale", "stale_proof"), ("forged proof", "bad_proof"),
        ("unknown issuer", "unknown_key"), ("wrong route", "wrong_route"),
        ("garbage", "malformed")])
    def test_an_alighting_scan_is_still_fully_checked_and_journaled(
            self, make_validator, issuer, case, expected):
        validator = make_validator(mode="alight")
        rider = issuer.rider(now=NOW)
        if case == "replay":
            validator.scan(rider.qr(NOW), NOW)
            qr = rider.qr(NOW)
        elif case == "stale":
            qr = rider.qr(NOW - 600)
        elif case == "forged proof":
            from shared import keys
            qr = ticket.encode_qr(rider.credential, keys.new_device_key(), NOW)
        elif case == "unknown issuer":
            from tests.testkit import Issuer
            qr = Issuer().rider(now=NOW).qr(NOW)
        elif case == "wrong route":
            qr = issuer.rider(now=NOW, routes=("99",)).qr(NOW)
        else:
            qr = "VX1:not a ticket"
        result = validator.scan(qr, NOW + 1)
        assert result.reason == expected
        last = validator.journal.trips()[-1]
        assert (last.mode, last.decision, last.reason) == ("alight", "refuse", expected)

    @pytest.mark.parametrize("body", ["", "nope", "[]", "{}", '{"mode": "exit"}',
                                      '{"mode": null}', '{"mode": 1}',
                                      '{"mode": "alight", "route": "9"}'])
    def test_a_bad_mode_request_is_400_and_changes_nothing(self, client, validator, body):
        response = client.post("/mode", data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"]
        assert validator.mode == "board"

    def test_a_bad_mode_in_code_is_refused(self, make_validator, validator):
        with pytest.raises(ValueError, match="mode"):
            validator.set_mode("sideways")
        with pytest.raises(ValueError, match="mode"):
            make_validator(validator_id="M9", mode="both")
        assert validator.mode == "board"


class TestPosition:
    def test_every_trip_records_the_route_and_stop_in_force_at_its_scan(self, client, validator,
                                                                        issuer):
        riders = [issuer.rider(now=NOW, routes=("*",)) for _ in range(3)]
        client.post("/position", json={"stop": "S1"})
        scan(client, riders[0].qr(NOW))
        client.post("/position", json={"stop": "S2"})
        scan(client, riders[1].qr(NOW))
        client.post("/position", json={"route": "09", "stop": None})
        scan(client, riders[2].qr(NOW))
        assert [(t.route, t.stop) for t in validator.journal.trips()] == [
            (ROUTE, "S1"), (ROUTE, "S2"), ("09", None)]

    def test_a_fixed_stop_cannot_be_moved(self, make_validator, issuer):
        validator = make_validator(validator_id="G1", stop="GATE-3")
        client = http_client(validator, stop_source="fixed")
        response = client.post("/position", json={"stop": "S9"})
        assert response.status_code == 409 and "fixed" in response.get_json()["error"]
        assert client.post("/position", json={"route": "09"}).status_code == 200
        assert (validator.route, validator.stop) == ("09", "GATE-3")

    @pytest.mark.parametrize("body", ['{"route": "   "}', '{"stop": ""}',
                                      '{"route": "' + "R" * 65 + '"}', '{"stop": "S1", "x": 1}'])
    def test_more_bad_positions_are_400_and_change_nothing(self, client, validator, body):
        response = client.post("/position", data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"]
        assert (validator.route, validator.stop) == (ROUTE, None)
