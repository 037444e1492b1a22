"""Validator.scan: the decision, with the journal as its memory, journaled before it returns."""

import threading

import msgspec

from shared.denylist import DenyEntry, Denylist
from validator.check import Decision
from validator.journal import Journal
from validator_testkit import NOW
from tests.testkit import ROUTE


def test_an_accepted_scan_is_journaled_as_a_trip_naming_the_pass_not_the_person(
        make_validator, issuer):
    validator = make_validator(vehicle="29B-12345")
    validator.set_position(validator.route, "S17")
    rider = issuer.rider(now=NOW, pass_id="7K3M9QX2TB", product="F", routes=("*",),
                         category="elderly")

    scan = validator.scan(rider.qr(NOW - 3), NOW)

    assert isinstance(scan, Decision) and scan.accepted
    assert scan.to_dict()["decision"] == "accept" and scan.to_dict()["trip_id"] == scan.trip.id
    [journaled] = validator.journal.trips()
    assert journaled == scan.trip
    assert msgspec.structs.asdict(journaled) == {
        "id": scan.trip.id, "validator": "V1", "vehicle": "29B-12345", "route": ROUTE,
        "stop": "S17", "at_ms": NOW * 1000, "decision": "accept", "reason": "ok",
        "pass_id": "7K3M9QX2TB", "product": "free", "category": "elderly", "proof_at": NOW - 3,
        "mode": "board", "company": None, "stop_by": "manual"}


def test_the_journal_is_written_before_the_decision_is_returned(make_validator, issuer):
    validator = make_validator()
    scan = validator.scan(issuer.rider(now=NOW).qr(NOW), NOW)
    # Another connection to the same file sees the scan: it is committed, not just cached.
    with Journal(validator.data_dir / "journal.db") as other:
        assert [t.id for t in other.trips()] == [scan.trip.id]


def test_a_refusal_is_journaled_too(make_validator):
    validator = make_validator()
    scan = validator.scan("not a vexe QR", NOW)
    assert scan.reason == "malformed" and scan.to_dict()["pass"] is None
    [journaled] = validator.journal.trips()
    assert (journaled.decision, journaled.reason, journaled.pass_id) == ("refuse", "malformed", None)


def test_the_same_qr_twice_is_a_replay(make_validator, issuer):
    validator = make_validator(passback=0)
    qr = issuer.rider(now=NOW).qr(NOW)
    assert validator.scan(qr, NOW).reason == "ok"
    assert validator.scan(qr, NOW + 5).reason == "replayed"


def test_the_same_pass_again_on_the_same_vehicle_is_passback_until_the_window_ends(
        make_validator, issuer):
    validator = make_validator(passback=600)
    rider = issuer.rider(now=NOW)
    assert validator.scan(rider.qr(NOW), NOW).reason == "ok"
    assert validator.scan(rider.qr(NOW + 60), NOW + 60).reason == "passback"
    assert validator.scan(rider.qr(NOW + 599), NOW + 599).reason == "passback"
    assert validator.scan(rider.qr(NOW + 601), NOW + 601).reason == "ok"


def test_another_pass_on_the_same_vehicle_is_not_passback(make_validator, issuer):
    validator = make_validator()
    assert validator.scan(issuer.rider(now=NOW).qr(NOW), NOW).reason == "ok"
    assert validator.scan(issuer.rider(now=NOW).qr(NOW + 1), NOW + 1).reason == "ok"


def test_history_survives_a_restart(make_validator, issuer, tmp_path):
    rider = issuer.rider(now=NOW)
    qr = rider.qr(NOW)
    first = make_validator(validator_id="V9")
    assert first.scan(qr, NOW).accepted
    first.close()
    again = make_validator(validator_id="V9")
    assert again.scan(qr, NOW + 1).reason == "replayed"
    assert again.scan(rider.qr(NOW + 30), NOW + 30).reason == "passback"


def test_route_and_stop_change_at_runtime(make_validator, issuer):
    validator = make_validator(route="32")
    rider = issuer.rider(now=NOW, routes=("32",))
    validator.set_position("09", "Cau Giay")
    scan = validator.scan(rider.qr(NOW), NOW)
    assert scan.reason == "wrong_route"
    assert (scan.trip.route, scan.trip.stop) == ("09", "Cau Giay")


def test_denylist_and_trust_list_come_from_the_lists(make_validator, issuer):
    untrusting = make_validator(validator_id="V2", trusted=False)
    assert untrusting.scan(issuer.rider(now=NOW).qr(NOW), NOW).reason == "unknown_key"

    validator = make_validator()
    validator.lists.update_denylist(Denylist(NOW, {"BAD1": DenyEntry(NOW - 10, NOW + 3600)}).dumps())
    scan = validator.scan(issuer.rider(now=NOW, pass_id="BAD1").qr(NOW), NOW)
    assert scan.reason == "revoked" and scan.trip.pass_id == "BAD1"


def test_one_qr_shown_to_two_readers_at_once_is_accepted_once(make_validator, issuer):
    validator = make_validator()
    qr = issuer.rider(now=NOW).qr(NOW)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def reader() -> None:
        barrier.wait()
        results.append(validator.scan(qr, NOW).reason)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 1 and results.count("replayed") == 7
    assert len(validator.journal) == 8


def test_status(make_validator, issuer):
    validator = make_validator(validator_id="V3", vehicle="BUS3", company="bus-co")
    validator.scan("junk", NOW)
    assert validator.status() == {"validator": "V3", "vehicle": "BUS3", "company": "bus-co",
                                  "route": ROUTE, "stop": None, "stop_by": None,
                                  "mode": "board", "stops_known": 0, "storage": "ok",
                                  "backlog": 1, "trust_list_size": 1,
                                  "denylist_size": 0, "clock_offset": None,
                                  "clock_offset_applied": 0.0, "clock_checked_at": None,
                                  "clock_state": "unchecked", "clock_step": None}

