"""``/api/ridership``: the console's tables as JSON and CSV, by role; alerts revoked and
dismissed; bad parameters refused with nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
import sqlalchemy as sa

from issuer.platform import db
from issuer.identity import operators
from issuer.platform.models import FareCategory
from backoffice import buckets
from ridership_testkit import TripMaker, today_with_room
from shared import clock
from shared.redis_keys import DENYLIST
from tests.issuer.conftest import api, app, client, config, initialised, session  # noqa: F401

MIN = 60_000


@pytest.fixture
def tokens(session):
    out = {}
    for role in operators.ROLES:
        operators.create(session, f"op-{role}", [role], now=clock.now())
        out[role] = operators.issue_token(session, f"op-{role}", role, now=clock.now())[1]
    session.commit()
    return out


@pytest.fixture
def seeded(app, api, worker_factory, stream):
    """Today (Hanoi): two passes on route 32, one cloned onto a second bus, a refusal."""
    rider = api.account()
    p = api.issue(rider["id"], "multi")
    api.ok("POST", f"/api/passes/{p['id']}/custodial",  # a credential out there to deny
           token=rider["rider_token"])
    today = today_with_room(7 * MIN)  # the last trip at t0 + 5 min, in the past
    t0 = max(today * 1000 + 60_000, int(clock.now() * 1000) - 30 * MIN)
    m = TripMaker()
    stream.push(m.board(pass_id=p["id"], at_ms=t0, stop="S01", vehicle="29B-100.01"),
                m.alight(pass_id=p["id"], at_ms=t0 + 5 * MIN, stop="S04", vehicle="29B-100.01"),
                m.board(pass_id=p["id"], at_ms=t0 + 3 * MIN, stop="S09", vehicle="29B-777.77"),
                m.board(pass_id="P000000002", at_ms=t0 + MIN, stop="S02", product="free",
                        category="elderly"),
                m.refused("stale_proof", pass_id="P000000003", at_ms=t0 + 2 * MIN))
    worker_factory().drain(clock.now())
    return p


def pass_status(config) -> str:
    # A connection of its own, closed at once: the database is dropped right after the test.
    with db.engine(config["DATABASE_URL"]).connect() as conn:
        return conn.execute(sa.text("SELECT status FROM passes")).scalar()


def get(client, path, token, **kw):
    return client.get(path, headers={"Authorization": f"Bearer {token}"}, **kw)


def post(client, path, token):
    return client.post(path, headers={"Authorization": f"Bearer {token}"})


class TestTables:
    @pytest.mark.parametrize("name", ["hourly", "routes", "stops", "products", "vehicles",
                                      "refusals", "refusals-hourly", "settlement", "validators",
                                      "alerts"])
    def test_each_table_as_json_and_csv(self, client, tokens, seeded, name):
        got = get(client, f"/api/ridership/{name}", tokens["analyst"])
        assert got.status_code == 200, got.get_json()
        rows = got.get_json()["rows"]
        assert rows
        csv = get(client, f"/api/ridership/{name}?format=csv", tokens["analyst"])
        assert csv.status_code == 200 and csv.content_type == "text/csv; charset=utf-8"
        lines = csv.text.lstrip("\ufeff").strip().splitlines()
        assert set(lines[0].split(",")) == set(rows[0]) and len(lines) == len(rows) + 1

    def test_a_cell_a_spreadsheet_would_run_is_text(self, client, tokens, app, worker_factory,
                                                      stream):
        """A bus names its vehicle and stop itself: "=..." reaches the spreadsheet as text."""
        now_ms = int(clock.now() * 1000)
        m = TripMaker()
        stream.push(m.board(at_ms=now_ms - MIN, vehicle='=HYPERLINK("http://x")', stop="@SUM(1)"))
        worker_factory().drain(clock.now())
        for name in ("vehicles", "stops"):
            csv = get(client, f"/api/ridership/{name}?format=csv", tokens["analyst"])
            assert csv.status_code == 200
            cells = [c for line in csv.text.splitlines()[1:] for c in line.split(",")]
            assert not [c for c in cells if c and c.lstrip('"')[:1] in "=+@"], csv.text
        assert "'=HYPERLINK" in get(client, "/api/ridership/vehicles?format=csv",
                                    tokens["analyst"]).text

    def test_the_numbers(self, client, tokens, seeded):
        routes = get(client, "/api/ridership/routes", tokens["analyst"]).get_json()["rows"]
        assert routes == [{"route": "32", "route_name": None, "boardings": 3, "alightings": 1,
                           "refusals": 1}]  # a route the network lacks has no name
        products = get(client, "/api/ridership/products", tokens["analyst"]).get_json()["rows"]
        assert {r["product"]: r["boardings"] for r in products if r["boardings"]} == {
            "multi": 2, "free:elderly": 1}
        hourly = get(client, "/api/ridership/hourly", tokens["analyst"]).get_json()["rows"]
        assert sum(h["boardings"] for h in hourly) == 3 and len(hourly) == 24
        refusals = get(client, "/api/ridership/refusals", tokens["analyst"]).get_json()["rows"]
        assert refusals[0]["reason"] == "stale_proof" and refusals[0]["refusals"] == 1
        od = get(client, "/api/ridership/od?route=32", tokens["analyst"]).get_json()
        assert od["matrix"]["journeys"] == 3 and od["matrix"]["open"] == 2
        assert {(r["origin"], r["destination"]): r["journeys"] for r in od["rows"]} == {
            ("S01", "S04"): 1, ("S02", "(open)"): 1, ("S09", "(open)"): 1}
        history = get(client, f"/api/ridership/passes/{seeded['id']}/history",
                      tokens["clerk"]).get_json()["rows"]
        assert [(h["mode"], h["stop"]) for h in history] == [
            ("board", "S01"), ("board", "S09"), ("alight", "S04")]
        assert history[0]["closed_by"] == history[2]["id"]

    def test_free_passes_by_their_category_name(self, client, tokens, seeded, session):
        """The catalogue names each free-pass category; the code stays a column of its own."""
        products = get(client, "/api/ridership/products", tokens["analyst"]).get_json()["rows"]
        named = {r["product"]: (r["name_vi"], r["name_en"]) for r in products}
        assert named["free:elderly"] == ("Thẻ miễn phí đi xe buýt: Người cao tuổi",
                                         "Free bus pass: Elderly people")
        assert named["multi"] == ("Vé tháng liên tuyến", "Monthly multi-route pass")
        csv = get(client, "/api/ridership/products?format=csv", tokens["analyst"]).text
        lines = csv.lstrip("\ufeff").splitlines()
        assert lines[0] == "product,name_vi,name_en,boardings,alightings,refusals"
        assert ("free:elderly,Thẻ miễn phí đi xe buýt: Người cao tuổi,"
                "Free bus pass: Elderly people,1,0,0") in lines
        settlement = get(client, "/api/ridership/settlement", tokens["analyst"]).get_json()
        assert {(r["product"], r["name_en"]) for r in settlement["rows"]} >= {
            ("free:elderly", "Free bus pass: Elderly people")}
        # The names are data: an administrator renaming a category renames it here.
        session.execute(sa.update(FareCategory).where(FareCategory.code == "elderly")
                        .values(name_en="Riders aged 60 and over"))
        session.commit()
        products = get(client, "/api/ridership/products", tokens["analyst"]).get_json()["rows"]
        assert {r["product"]: r["name_en"] for r in products}["free:elderly"] == (
            "Free bus pass: Riders aged 60 and over")

    @pytest.mark.parametrize("query, message", [
        ("routes?from=2026-13-01", "from: a date must look like YYYY-MM-DD"),
        ("routes?from=2026-11-20&to=2026-11-01", "ends before it starts"),
        ("routes?from=2024-01-01&to=2026-01-01", "at most 366 days"),
        ("routes?limit=0", "limit must be"),
        ("routes?format=xml", "format must be json or csv"),
        ("od", "'route' is required"),
        ("alerts?status=maybe", "status must be"),
    ])
    def test_bad_parameters_are_400(self, client, tokens, query, message):
        got = get(client, f"/api/ridership/{query}", tokens["analyst"])
        assert got.status_code == 400 and message in got.get_json()["error"]

    def test_unknown_table_is_404(self, client, tokens):
        assert get(client, "/api/ridership/nothing", tokens["analyst"]).status_code == 404


class TestRoles:
    @pytest.mark.parametrize("role, status", [("analyst", 200), ("administrator", 200),
                                              ("clerk", 403), ("approver", 403)])
    def test_who_reads_ridership(self, client, tokens, role, status):
        assert get(client, "/api/ridership/routes", tokens[role]).status_code == status

    def test_no_token_is_401(self, client):
        assert client.get("/api/ridership/routes").status_code == 401

    def test_a_rider_is_refused(self, client, api):
        rider = api.account()
        assert get(client, "/api/ridership/routes", rider["rider_token"]).status_code == 403

    @pytest.mark.parametrize("role", ["analyst", "clerk"])
    def test_only_an_administrator_acts_on_alerts(self, client, tokens, seeded, role, config):
        alert = get(client, "/api/ridership/alerts", tokens["analyst"]).get_json()["rows"][0]
        got = post(client, f"/api/ridership/alerts/{alert['id']}/revoke", tokens[role])
        assert got.status_code == 403
        assert pass_status(config) == "active"


class TestAlerts:
    def test_revoke_from_the_alert(self, client, tokens, seeded, config):
        alerts = get(client, "/api/ridership/alerts", tokens["analyst"]).get_json()["rows"]
        assert len(alerts) == 1 and alerts[0]["pass_id"] == seeded["id"]
        assert (alerts[0]["first_vehicle"], alerts[0]["second_vehicle"]) == (
            "29B-100.01", "29B-777.77")
        got = post(client, f"/api/ridership/alerts/{alerts[0]['id']}/revoke",
                   tokens["administrator"])
        assert got.status_code == 200, got.get_json()
        assert got.get_json()["status"] == "revoked" and got.get_json()["published"] is True
        assert pass_status(config) == "revoked"
        with redis.Redis.from_url(config["REDIS_URL"]) as r:
            assert seeded["id"] in r.get(DENYLIST).decode()
        again = post(client, f"/api/ridership/alerts/{alerts[0]['id']}/dismiss",
                     tokens["administrator"])
        assert again.status_code == 409

    def test_dismiss(self, client, tokens, seeded, config):
        alert = get(client, "/api/ridership/alerts", tokens["analyst"]).get_json()["rows"][0]
        got = post(client, f"/api/ridership/alerts/{alert['id']}/dismiss", tokens["administrator"])
        assert got.status_code == 200 and got.get_json()["status"] == "dismissed"
        assert pass_status(config) == "active"
        assert get(client, "/api/ridership/alerts", tokens["analyst"]).get_json()["rows"] == []

    def test_an_unknown_alert_is_404(self, client, tokens):
        assert post(client, "/api/ridership/alerts/999/dismiss",
                    tokens["administrator"]).status_code == 404


def test_period_bounds_are_hanoi_days():
    """A trip at 23:30 on the 20th Hanoi time (16:30 UTC) is on the 20th."""
    at = dt.datetime(2026, 11, 20, 23, 30, tzinfo=clock.HANOI)
    assert buckets.date_of(buckets.day_of(int(at.timestamp() * 1000))) == dt.date(2026, 11, 20)
