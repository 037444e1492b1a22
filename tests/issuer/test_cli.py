"""The issuer's ``vexe`` commands as an operator scripts them: JSON out, one line of error."""

import json

import pytest

from issuer_testkit import QR
from shared import clock
from shared.denylist import Denylist


def test_operator_workflow(cli):
    route = cli.json("route", "add", "e05a", "--name", "Bến xe Gia Lâm - Vinhomes Ocean Park")
    assert route == {"code": "E05A", "name": "Bến xe Gia Lâm - Vinhomes Ocean Park"}
    assert cli.json("route", "list") == [route]
    account = cli.json("account", "create", "--name", "Nguyễn Thị Hoa", "--birth-date",
                       "1952-04-30", "--national-id", "001052000001")
    assert set(account) == {"id", "full_name", "birth_date", "identity_level", "has_photo",
                            "created_at", "rider_token"}
    year = clock.hanoi_month(clock.now())[0] + 1
    single = cli.json("pass", "issue", account["id"], "--product", "single", "--route", "E05A",
                      "--month", f"{year}-11")
    assert single["route"] == "E05A" and single["valid_until_local"] == f"{year}-12-01T00:00:00+07:00"
    multi = cli.json("pass", "issue", account["id"], "--product", "multi")
    free = cli.json("pass", "issue", account["id"], "--product", "free", "--category", "elderly")
    assert [p["product"] for p in (single, multi, free)] == ["single", "multi", "free"]
    assert cli.ok(*QR, multi["id"]).stdout.startswith("VX1:")
    revoked = cli.json("pass", "revoke", multi["id"], "--reason", "duplicate")
    assert revoked["status"] == "revoked" and revoked["published"] is True
    deny = Denylist.loads(cli.ok("pass", "denylist").stdout)
    assert list(deny.entries) == [multi["id"]]
    assert cli.json("publish") == {"published": True, "trust_keys": 1, "denylist_entries": 1,
                                   "stops": {"published": True, "routes_with_stops": 0,
                                             "routes_removed": 0}}


@pytest.mark.parametrize(("args", "message"), [
    (["pass", "issue", "NOPE", "--product", "multi"], "vexe: no account 'NOPE'"),
    (["pass", "issue", "{account}", "--product", "multi", "--month", "2026-13"],
     "vexe: month must look like YYYY-MM, got '2026-13'"),
    (["pass", "issue", "{account}", "--product", "single"], "vexe: a single-route pass needs a route"),
    (["pass", "issue", "{account}", "--product", "single", "--route", "99"], "vexe: no route '99'"),
    (["pass", "issue", "{account}", "--product", "free", "--category", "vip"],
     "vexe: a free fare category must be one of child, disability, elderly, merit, got 'vip'"),
    (["pass", "revoke", "NOPE", "--reason", "x"], "vexe: no pass 'NOPE'"),
    (["pass", "revoke", "{pass}", "--reason", " "], "vexe: a revocation needs a reason of 1 to 500 characters"),
    (["pass", "show", "NOPE"], "vexe: no pass 'NOPE'"),
    (["account", "create", "--name", "A", "--birth-date", "31-12-1990"],
     "vexe: birth date must be a date written YYYY-MM-DD, got '31-12-1990'"),
    (["account", "create", "--name", " ", "--birth-date", "1990-12-31"],
     "vexe: full name must be 1 to 200 characters"),
    (["route", "add", "32", "--name", "again"], "vexe: route 32 already exists"),
    (["route", "add", "no spaces", "--name", "x"],
     "vexe: route code must be 1 to 16 letters, digits or dashes, got 'NO SPACES'"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    cli.json("route", "add", "32", "--name", "Giáp Bát - Nhổn")
    account = cli.json("account", "create", "--name", "Hà Văn Khánh", "--birth-date", "1990-01-01")
    p = cli.json("pass", "issue", account["id"], "--product", "multi")
    before = [cli.json("pass", "show", p["id"]), cli.json("route", "list")]
    line = cli.fails(*[a.format(account=account["id"], **{"pass": p["id"]}) for a in args])
    assert line == message
    assert [cli.json("pass", "show", p["id"]), cli.json("route", "list")] == before


def test_usage_errors_exit_2(cli):
    result = cli.run("pass", "issue", "X", "--product", "weekly")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert cli.run("pass", "issue", "X").exit_code == 2
    assert cli.run(*QR, "X", "--at", "soon").exit_code == 2


def test_json_output_parses(cli):
    for args in (["keys", "list"], ["keys", "jwks"], ["pass", "denylist"], ["route", "list"]):
        json.loads(cli.ok(*args).stdout)
