"""Issuing passes over HTTP: each product, calendar months in Hanoi time, bad input."""

import datetime as dt

import pytest
import sqlalchemy as sa

from issuer.platform.models import Pass
from shared import clock

UTC = dt.timezone.utc


def utc(*args) -> int:
    return int(dt.datetime(*args, tzinfo=UTC).timestamp())


def next_year() -> int:
    return clock.hanoi_month(clock.now())[0] + 1


def pass_count(session) -> int:
    session.rollback()  # a fresh snapshot: the app commits on its own connection
    return session.scalar(sa.select(sa.func.count()).select_from(Pass))


class TestIssue:
    def test_single_route_pass(self, api):
        api.route("E05A", "Bến xe Gia Lâm - Vinhomes Ocean Park")
        account = api.account()
        p = api.issue(account["id"], "single", route="E05A")
        assert p["product"] == "single" and p["route"] == "E05A" and p["category"] is None
        assert p["status"] == "active" and p["account_id"] == account["id"]
        assert len(p["id"]) == 10 and set(p["id"]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    def test_route_code_is_case_insensitive(self, api):
        api.route("E05A")
        p = api.issue(api.account()["id"], "single", route="e05a")
        assert p["route"] == "E05A"

    def test_multi_route_pass(self, api):
        p = api.issue(api.account()["id"], "multi")
        assert p["product"] == "multi" and p["route"] is None

    def test_free_pass_runs_twelve_months_from_this_month(self, api):
        account = api.account(birth_date="1950-02-03")
        p = api.issue(account["id"], "free", category="elderly")
        year, month = clock.hanoi_month(clock.now())
        assert p["category"] == "elderly"
        assert p["valid_from"] == clock.month_bounds(year, month)[0]
        assert p["valid_until"] == clock.month_bounds(year + 1, month)[0]

    def test_free_pass_from_a_given_month(self, api):
        account = api.account(birth_date="1950-02-03")
        p = api.issue(account["id"], "free", category="merit", month=f"{next_year()}-03")
        assert p["valid_from"] == clock.month_bounds(next_year(), 3)[0]
        assert p["valid_until"] == clock.month_bounds(next_year() + 1, 3)[0]

    def test_default_month_is_the_current_month_in_hanoi(self, api):
        p = api.issue(api.account()["id"], "multi")
        now = clock.now()
        assert p["valid_from"] <= now < p["valid_until"]
        assert (p["valid_from"], p["valid_until"]) == clock.month_bounds(*clock.hanoi_month(now))

    def test_november_ends_at_17_utc_on_30_november(self, api):
        """A November pass is void at 00:00 on 1 December in Hanoi: 17:00 UTC on 30 Nov."""
        year = next_year()
        p = api.issue(api.account()["id"], "multi", month=f"{year}-11")
        assert p["valid_from"] == utc(year, 10, 31, 17)
        assert p["valid_until"] == utc(year, 11, 30, 17)
        assert p["valid_until_local"] == f"{year}-12-01T00:00:00+07:00"

    def test_december_runs_into_the_new_year(self, api):
        year = next_year()
        p = api.issue(api.account()["id"], "multi", month=f"{year}-12")
        assert p["valid_until"] == utc(year, 12, 31, 17)

    def test_get_pass(self, api):
        p = api.issue(api.account()["id"], "multi")
        assert api.ok("GET", f"/api/passes/{p['id']}") == p


@pytest.fixture
def rider(api):
    api.route("32")
    return api.account()


ISSUE_ERRORS = [
    ({"product": "weekly"}, 400, "product must be one of free, multi, single"),
    ({"product": "single"}, 400, "a single-route pass needs a route"),
    ({"product": "single", "route": "99"}, 404, "no route '99'"),
    ({"product": "single", "route": "3 2"}, 400, "route code must be"),
    ({"product": "multi", "route": "32"}, 400, "covers no single route"),
    ({"product": "free"}, 400, "a free pass needs a category"),
    ({"product": "free", "category": "student"}, 400,
     "a free fare category must be one of child, disability, elderly, merit, got 'student'"),
    ({"product": "multi", "category": "merit"}, 400, "only a free pass has a category"),
    ({"product": "free", "category": "elderly"}, 400, "category elderly is for ages 60"),
    ({"product": "free", "category": "child"}, 400, "category child is for ages up to 5"),
    ({"product": "multi", "month": "2026-13"}, 400, "month must look like YYYY-MM"),
    ({"product": "multi", "month": "November"}, 400, "month must look like YYYY-MM"),
    ({"product": "multi", "month": "2020-01"}, 400, "month 2020-01 is over"),
    ({"product": "multi", "month": 202611}, 400, "field 'month' must be a string"),
    ({"product": 1}, 400, "field 'product' must be a string"),
    ({"product": "multi", "route_code": "32"}, 400, "unknown field 'route_code'"),
    ({}, 400, "field 'product' is required"),
]


@pytest.mark.parametrize(("fields", "status", "message"), ISSUE_ERRORS)
def test_bad_issue_is_refused_and_changes_nothing(api, session, rider, fields, status, message):
    before = pass_count(session)
    response = api.call("POST", "/api/passes", json={"account_id": rider["id"], **fields})
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert pass_count(session) == before


def test_unknown_account_is_404(api, session):
    response = api.call("POST", "/api/passes", json={"account_id": "0000000000", "product": "multi"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "no account '0000000000'"
    assert pass_count(session) == 0


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
    (b'"multi"', "request body must be a JSON object"),
    (b"", "field 'account_id' is required"),
])
def test_malformed_bodies_are_400(api, session, body, message):
    response = api.call("POST", "/api/passes", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == message
    assert pass_count(session) == 0


ACCOUNT_ERRORS = [
    ({"full_name": "", "birth_date": "1990-01-01"}, "full name must be 1 to 200 characters"),
    ({"full_name": "A", "birth_date": "01/02/1990"}, "birth date must be a date written YYYY-MM-DD"),
    ({"full_name": "A", "birth_date": "1990-02-30"}, "birth date must be a date written YYYY-MM-DD"),
    ({"full_name": "A", "birth_date": "2999-01-01"}, "is not a plausible date of birth"),
    ({"full_name": "A", "birth_date": "1990-01-01", "national_id": "12"}, "12 digits"),
    ({"full_name": "A", "birth_date": "1990-01-01", "identity_level": "2"}, "must be an integer"),
    ({"full_name": "A"}, "field 'birth_date' is required"),
]


@pytest.mark.parametrize(("body", "message"), ACCOUNT_ERRORS)
def test_bad_account_is_400(api, body, message):
    response = api.call("POST", "/api/accounts", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_national_id_is_kept_as_a_keyed_hash_only(api, session):
    body = {"full_name": "Trần Thị Bình", "birth_date": "1985-07-07", "national_id": "001085012345"}
    account = api.ok("POST", "/api/accounts", json=body)
    assert "national_id" not in account and "001085012345" not in str(account)
    stored = session.execute(sa.text("SELECT national_id_hash FROM accounts")).scalar_one()
    assert len(stored) == 64 and "001085012345" not in stored
    again = api.call("POST", "/api/accounts", json=body)
    assert again.status_code == 409 and "already exists" in again.get_json()["error"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"code": "32", "name": "again"}, 409, "route 32 already exists"),
    ({"code": "", "name": "x"}, 400, "route code must be"),
    ({"code": "A" * 17, "name": "x"}, 400, "route code must be"),
    ({"code": "33", "name": " "}, 400, "route name must be"),
])
def test_bad_route_is_refused(api, body, status, message):
    api.route("32")
    response = api.call("POST", "/api/routes", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert api.ok("GET", "/api/routes") == {"routes": [{"code": "32", "name": "Giáp Bát - Nhổn"}]}


class TestNotFoundAndMethods:
    def test_unknown_pass_is_404(self, api):
        response = api.call("GET", "/api/passes/ZZZZZZZZZZ")
        assert response.status_code == 404
        assert response.get_json()["error"] == "no pass 'ZZZZZZZZZZ'"

    def test_unknown_url_is_a_json_404(self, api):
        response = api.call("GET", "/api/nothing-here")
        assert response.status_code == 404 and "error" in response.get_json()

    def test_wrong_method_is_a_json_405(self, api):
        response = api.call("DELETE", "/api/routes")
        assert response.status_code == 405 and "error" in response.get_json()
        assert "POST" in response.headers["Allow"]

    def test_healthz(self, client):
        assert client.get("/healthz").get_json() == {"status": "ok"}
