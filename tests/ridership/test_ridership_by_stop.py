"""Ridership by the network's real stops through ``/api/ridership``: the stops at one place
(both directions' stop ids, every route) counted as one place named as the feed names it, a
stop the network lacks kept as its text; the OD matrix by place; a pass's history with names."""

from __future__ import annotations

import pytest

from issuer.identity import operators
from network_testkit import seed
from shared import clock
from tests.issuer.conftest import api, app, cli, client, config, initialised, session  # noqa: F401


@pytest.fixture
def tokens(session):
    out = {}
    for role in operators.ROLES:
        operators.create(session, f"op-{role}", [role], now=clock.now())
        out[role] = operators.issue_token(session, f"op-{role}", role, now=clock.now())[1]
    session.commit()
    return out


@pytest.fixture
def seeded(cli, stream, worker_factory, tmp_path):
    return seed(cli, stream, worker_factory, tmp_path)


def get(client, path, token):
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response


def test_top_stops_are_places_named_as_the_feed_names_them(client, tokens, seeded):
    rows = get(client, "/api/ridership/stops", tokens["analyst"]).get_json()["rows"]
    assert [(r["stop"], r["stop_name"], r["routes"], r["boardings"], r["alightings"],
             r["refusals"]) for r in rows] == [
        ("S1_0", "Điểm dừng S1", "32", 2, 1, 1),  # S1_0 and S1_1: one place
        ("S2_0", "Điểm dừng S2", "31, 32", 2, 0, 0),  # two routes at one place
        ("Cầu Giấy", "Cầu Giấy", "32", 1, 0, 0),  # a driver's text, as it was
        ("S4_0", "Điểm dừng S4", "32", 1, 1, 0)]
    assert (rows[0]["lat"], rows[0]["lon"]) == (21.0285, 105.8048)
    assert rows[2]["lat"] is None and rows[2]["lon"] is None
    one_route = get(client, "/api/ridership/stops?route=31&limit=5",
                    tokens["analyst"]).get_json()["rows"]
    assert [(r["stop"], r["routes"], r["boardings"]) for r in one_route] == [("S2_0", "31", 1)]
    csv = get(client, "/api/ridership/stops?format=csv", tokens["analyst"]).text
    lines = csv.lstrip("\ufeff").splitlines()
    assert lines[0] == "stop,stop_name,routes,boardings,alightings,refusals,lat,lon"
    assert lines[1] == "S1_0,Điểm dừng S1,32,2,1,1,21.0285,105.8048"


def test_routes_carry_their_names(client, tokens, seeded):
    rows = get(client, "/api/ridership/routes", tokens["analyst"]).get_json()["rows"]
    assert {r["route"]: (r["route_name"], r["boardings"]) for r in rows} == {
        "32": ("Giáp Bát - Nhổn", 5), "31": ("Bách Khoa - Chèm", 1)}


def test_the_od_matrix_is_by_place_with_names(client, tokens, seeded):
    od = get(client, "/api/ridership/od?route=32", tokens["analyst"]).get_json()
    assert [(r["origin"], r["destination"], r["journeys"]) for r in od["rows"]] == [
        ("Cầu Giấy", "(open)", 1), ("S1_0", "S4_0", 1), ("S1_0", "(open)", 1),
        ("S2_0", "(open)", 1), ("S4_0", "S1_0", 1)]
    named = {(r["origin_name"], r["destination_name"]) for r in od["rows"]}
    assert ("Điểm dừng S4", "Điểm dừng S1") in named  # inbound: S4_1 to S1_1, by place
    matrix = od["matrix"]
    assert matrix["origins"] == ["Cầu Giấy", "S1_0", "S2_0", "S4_0"]
    assert matrix["origin_names"] == ["Cầu Giấy", "Điểm dừng S1", "Điểm dừng S2",
                                      "Điểm dừng S4"]
    assert matrix["destinations"] == ["S1_0", "S4_0", "(open)"]
    assert matrix["destination_names"] == ["Điểm dừng S1", "Điểm dừng S4", "(open)"]
    assert (matrix["journeys"], matrix["open"]) == (5, 3)


def test_a_pass_history_names_its_stops_and_route(client, tokens, seeded):
    rows = get(client, "/api/ridership/passes/P000000002/history",
               tokens["clerk"]).get_json()["rows"]
    assert [(r["mode"], r["stop"], r["stop_name"], r["route_name"]) for r in rows] == [
        ("board", "S4_1", "Điểm dừng S4", "Giáp Bát - Nhổn"),
        ("alight", "S1_1", "Điểm dừng S1", "Giáp Bát - Nhổn")]
    assert (rows[0]["destination"], rows[0]["destination_name"]) == ("S1_1", "Điểm dừng S1")
    typed = get(client, "/api/ridership/passes/P000000005/history",
                tokens["clerk"]).get_json()["rows"]
    assert (typed[0]["stop"], typed[0]["stop_name"]) == ("Cầu Giấy", "Cầu Giấy")
    assert typed[0]["destination"] is None and typed[0]["destination_name"] is None


def test_only_readers_read_the_stops(client, tokens, seeded):
    for role in ("clerk", "approver"):
        response = client.get("/api/ridership/stops",
                              headers={"Authorization": f"Bearer {tokens[role]}"})
        assert response.status_code == 403
    assert client.get("/api/ridership/stops").status_code == 401
