"""``vexe network import``: GTFS feeds as real ones come, built here as zip files with the
reference's field names (https://gtfs.org/schedule/reference/), imported through the
command line on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import zipfile

import pytest
import sqlalchemy as sa

from issuer.network import gtfs
from issuer.sales import orders
from issuer.platform.models import AuditEntry, Route, RouteStop, ShapePoint, Stop
from issuer.platform.models import Company
from shared import clock, keys
from tests.issuer.issuer_testkit import verify_with_jwks

NEXT_YEAR = clock.hanoi_month(clock.now())[0] + 1


def city() -> dict[str, list[list[str]]]:
    """A small, clean feed: route 32 both ways (each direction its own stop ids at the same
    places), route 31 one way; trips of 32 outbound mostly skip stop S3."""
    stops = [["stop_id", "stop_name", "stop_lat", "stop_lon"]]
    places = {"S1": (21.0285, 105.8048), "S2": (21.0301, 105.8102), "S3": (21.0333, 105.8150),
              "S4": (21.0366, 105.8201)}
    for stop, (lat, lon) in places.items():
        stops.append([f"{stop}_0", f"Điểm dừng {stop}", str(lat), str(lon)])
        stops.append([f"{stop}_1", f"Điểm dừng {stop}", str(lat), str(lon + 0.00005)])  # ~5 m
    trips = [["route_id", "service_id", "trip_id", "direction_id", "shape_id"]]
    stop_times = [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]]

    def trip(trip_id, route, direction, shape, sequence):
        trips.append([route, "WD", trip_id, direction, shape])
        for n, stop in enumerate(sequence):
            time = f"06:{n:02d}:00"
            stop_times.append([trip_id, time, time, stop, str(n + 1)])

    for n in range(3):
        trip(f"32a{n}", "R32", "0", "SH32", ["S1_0", "S2_0", "S4_0"])
    trip("32long", "R32", "0", "SH32", ["S1_0", "S2_0", "S3_0", "S4_0"])
    trip("32b", "R32", "1", "SH32B", ["S4_1", "S3_1", "S2_1", "S1_1"])
    trip("31a", "R31", "0", "", ["S2_0", "S3_0"])
    return {
        "agency.txt": [["agency_id", "agency_name", "agency_url", "agency_timezone"],
                       ["TRANSERCO", "Tổng công ty Vận tải Hà Nội", "https://transerco.vn",
                        "Asia/Bangkok"]],
        "routes.txt": [["route_id", "agency_id", "route_short_name", "route_long_name",
                        "route_type"],
                       ["R32", "TRANSERCO", "32", "Giáp Bát - Nhổn", "3"],
                       ["R31", "TRANSERCO", "31", "Bách Khoa - Chèm", "3"]],
        "stops.txt": stops, "trips.txt": trips, "stop_times.txt": stop_times,
        "calendar.txt": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                          "saturday", "sunday", "start_date", "end_date"],
                         ["WD", "1", "1", "1", "1", "1", "0", "0", "20260101",
                          f"{NEXT_YEAR}1231"]],
        "shapes.txt": [["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"],
                       ["SH32", "21.0285", "105.8048", "1"], ["SH32", "21.0366", "105.8201", "2"],
                       ["SH32B", "21.0366", "105.8201", "1"],
                       ["SH32B", "21.0285", "105.8048", "2"]],
    }


def write(path, files: dict[str, list[list[str]]]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in files.items():
            archive.writestr(name, "\r\n".join(",".join(_cell(c) for c in row) for row in rows))
    return path


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


def edited(change) -> dict:
    files = copy.deepcopy(city())
    change(files)
    return files


def column(files, name, header, value_of):
    """Set one column of every row of ``name`` (``value_of(row)``)."""
    index = files[name][0].index(header)
    for row in files[name][1:]:
        row[index] = value_of(row)


def imported(cli, tmp_path, files, *args) -> dict:
    return cli.json("network", "import", write(tmp_path / "feed.zip", files), *args)


def snapshot(session) -> list:
    session.expire_all()
    return [sorted((r.code, r.name, r.retired_at) for r in session.scalars(sa.select(Route))),
            sorted((s.id, s.name, s.station) for s in session.scalars(sa.select(Stop))),
            session.scalar(sa.select(sa.func.count()).select_from(RouteStop)),
            session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))]


class TestImport:
    def test_a_clean_feed_becomes_companies_routes_stops_patterns_and_paths(self, cli, tmp_path,
                                                                            session):
        summary = imported(cli, tmp_path, city())
        assert summary["routes"]["added"] == ["31", "32"] and summary["timezone"] == "Asia/Bangkok"
        assert summary["stops"] == {"in_feed": 8, "added": 8, "retired": 0, "stations": 4,
                                    "grouped": 4}
        assert summary["patterns"]["count"] == 3 and summary["shapes"] == 2
        assert summary["companies"] == ["TRANSERCO"] and not summary["dry_run"]
        assert session.get(Company, "TRANSERCO").name == "Tổng công ty Vận tải Hà Nội"
        route = session.get(Route, "32")
        assert (route.name, route.company_code, route.retired_at) == ("Giáp Bát - Nhổn",
                                                                      "TRANSERCO", None)

        def pattern(code, direction):
            return list(session.scalars(sa.select(RouteStop.stop_id).where(
                RouteStop.route_code == code, RouteStop.direction == direction)
                .order_by(RouteStop.seq)))

        # The most common sequence, not the longest (one trip of four also stops at S3).
        assert pattern("32", 0) == ["S1_0", "S2_0", "S4_0"]
        assert pattern("32", 1) == ["S4_1", "S3_1", "S2_1", "S1_1"]
        assert pattern("31", 0) == ["S2_0", "S3_0"]
        path = session.execute(sa.select(ShapePoint.lat, ShapePoint.lon).where(
            ShapePoint.route_code == "32", ShapePoint.direction == 1).order_by(ShapePoint.seq))
        assert [tuple(p) for p in path] == [(21.0366, 105.8201), (21.0285, 105.8048)]
        entry = session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "network.import")).one()
        assert entry.target == "feed.zip" and entry.actor.startswith("cli")

    def test_stops_at_the_same_place_are_one_station_whatever_their_ids(self, cli, tmp_path,
                                                                       session):
        summary = imported(cli, tmp_path, city())
        stations = {s.id: s.station for s in session.scalars(sa.select(Stop))}
        assert stations["S1_0"] == stations["S1_1"] == "S1_0"
        assert len({stations["S1_0"], stations["S2_0"], stations["S3_0"], stations["S4_0"]}) == 4
        assert any("4 stops share a place" in w for w in summary["warnings"])

    def test_dry_run_reports_and_changes_nothing(self, cli, tmp_path, session):
        before = snapshot(session)
        summary = imported(cli, tmp_path, city(), "--dry-run")
        assert summary["dry_run"] is True and summary["routes"]["added"] == ["31", "32"]
        assert snapshot(session) == before


def _no_agency(files):
    del files["agency.txt"]


def _placeholders(files):
    files["routes.txt"][1][3] = "Route_32_2"
    column(files, "stops.txt", "stop_name", lambda row: f"STOP_{row[0]}")


def _expired(files):
    files["calendar.txt"][1][-1] = "20240630"


def _idle_route(files):
    files["routes.txt"].append(["R99", "TRANSERCO", "99", "Tuyến chưa chạy", "3"])


def _empty_shape_and_direction(files):
    column(files, "trips.txt", "shape_id", lambda row: "")
    column(files, "trips.txt", "direction_id", lambda row: "")


@pytest.mark.parametrize(("change", "warning"), [
    (_no_agency, "agency.txt missing: time zone assumed Asia/Ho_Chi_Minh"),
    (_placeholders, "placeholder names (an id, not a place), e.g. Route_32_2, STOP_S1_0"),
    (_expired, "calendar expired on 2024-06-30"),
    (_idle_route, "routes without trips, imported without stops: 99"),
    (_empty_shape_and_direction, "6 trips without direction_id: direction 0 assumed"),
    (_empty_shape_and_direction, "6 trips without shape_id: no path for them"),
])
def test_a_quirk_is_imported_with_a_warning(cli, tmp_path, session, change, warning):
    summary = imported(cli, tmp_path, edited(change))
    assert any(warning in w for w in summary["warnings"]), summary["warnings"]
    assert {"31", "32"} <= set(summary["routes"]["added"])
    assert session.get(Route, "32") is not None


def test_no_agency_means_hanoi_time_and_no_company(cli, tmp_path, session):
    summary = imported(cli, tmp_path, edited(_no_agency))
    assert summary["timezone"] == "Asia/Ho_Chi_Minh" and summary["companies"] == []
    assert session.get(Route, "32").company_code is None


def test_without_directions_the_trips_of_a_route_are_one_direction(cli, tmp_path, session):
    imported(cli, tmp_path, edited(_empty_shape_and_direction))
    directions = session.scalars(sa.select(RouteStop.direction).where(
        RouteStop.route_code == "32").distinct())
    assert list(directions) == [0]
    assert session.scalar(sa.select(sa.func.count()).select_from(ShapePoint)) == 0


def _drop(name):
    return lambda files: files.pop(name)


def _drop_column(name, header):
    def change(files):
        index = files[name][0].index(header)
        for row in files[name]:
            del row[index]
    return change


def _stop_times_naming(what, value):
    def change(files):
        files["stop_times.txt"].append(
            {"stop": ["32a0", "", "", value, "9"], "trip": [value, "", "", "S1_0", "1"]}[what])
    return change


def _out_of_range(files):
    files["stops.txt"][1][2] = "121.03"


def _duplicate_stop(files):
    files["stops.txt"].append(list(files["stops.txt"][1]))


def _control_character(files):
    files["routes.txt"][1][3] = "Giáp Bát\x1b[2J - Nhổn"


@pytest.mark.parametrize(("change", "error"), [
    (_drop("stop_times.txt"), "stop_times.txt missing"),
    (_drop("routes.txt"), "routes.txt missing"),
    (_drop_column("stops.txt", "stop_lat"), "stops.txt: column stop_lat missing"),
    (_drop_column("routes.txt", "route_short_name"), "routes.txt: column route_short_name missing"),
    (_stop_times_naming("stop", "NOWHERE"), "stop_times.txt: unknown stop_id 'NOWHERE' (1 rows)"),
    (_stop_times_naming("trip", "GHOST"), "stop_times.txt: unknown trip_id 'GHOST' (1 rows)"),
    (_out_of_range, "stops.txt line 2: coordinates out of range (121.03, 105.8048)"),
    (_duplicate_stop, "stops.txt line 10: duplicate stop_id 'S1_0'"),
    (_control_character, "routes.txt line 2: name must not hold control characters"),
])
def test_a_feed_with_errors_is_refused_and_nothing_changes(cli, tmp_path, session, change,
                                                           error):
    imported(cli, tmp_path, city())
    before = snapshot(session)
    message = cli.fails("network", "import", write(tmp_path / "bad.zip", edited(change)))
    assert message.startswith("vexe: feed refused, ") and error in message, message
    assert snapshot(session) == before


def test_every_error_is_listed(cli, tmp_path):
    def two(files):
        _control_character(files)
        _duplicate_stop(files)
    message = cli.fails("network", "import", write(tmp_path / "bad.zip", edited(two)))
    assert message == ("vexe: feed refused, 2 errors: routes.txt line 2: name must not hold "
                       "control characters or lone surrogates; stops.txt line 10: duplicate "
                       "stop_id 'S1_0'")


def test_an_archive_of_too_many_files_or_bytes_is_refused_unread(cli, tmp_path, monkeypatch):
    many = {**city(), **{f"extra{n}.txt": [["x"]] for n in range(gtfs.MAX_FILES)}}
    message = cli.fails("network", "import", write(tmp_path / "many.zip", many))
    assert f"files in the archive, at most {gtfs.MAX_FILES}" in message
    # A bomb: what the archive's directory says it would decompress to is over the bound.
    monkeypatch.setattr(gtfs, "MAX_UNCOMPRESSED", 1000)
    message = cli.fails("network", "import", write(tmp_path / "big.zip", city()))
    assert "bytes uncompressed, at most 1000" in message


def test_not_a_zip_is_refused(cli, tmp_path):
    path = tmp_path / "feed.zip"
    path.write_text("route_id,route_short_name\n")
    assert "not a zip archive" in cli.fails("network", "import", path)


class TestReimport:
    def test_a_newer_feed_renames_retires_and_passes_keep_working(self, cli, api, tmp_path,
                                                                 session):
        imported(cli, tmp_path, city())
        riders = {}
        for code in ("31", "32"):
            token, p = api.rider_pass("single", route=code)
            api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
                   json={"public_key": keys.device_public_compressed(keys.new_device_key())})
            riders[code] = token, p["id"]

        def newer(files):
            files["routes.txt"][1][3] = "Giáp Bát - Nhổn (Cầu Diễn)"
            del files["routes.txt"][2]  # 31 gone, with its only trip
            files["trips.txt"] = [r for r in files["trips.txt"] if r[0] != "R31"]
            files["stop_times.txt"] = [r for r in files["stop_times.txt"] if r[0] != "31a"]

        summary = imported(cli, tmp_path, edited(newer))
        assert summary["routes"]["retired"] == ["31"] and summary["routes"]["added"] == []
        assert summary["routes"]["renamed"] == [{"code": "32", "from": "Giáp Bát - Nhổn",
                                                 "to": "Giáp Bát - Nhổn (Cầu Diễn)"}]
        # The passes on both routes get their credentials refreshed, for their route.
        for code, (token, pass_id) in riders.items():
            out = api.ok("POST", f"/api/passes/{pass_id}/credential", token=token)
            assert verify_with_jwks(out["credential"], api.jwks())["rts"] == [code]
        session.expire_all()
        retired = session.get(Route, "31")
        assert retired is not None and retired.retired_at is not None
        assert session.get(Route, "32").retired_at is None
        # A retired route sells no new pass, and the shop no longer offers it.
        response = api.call("POST", "/api/passes",
                            json={"account_id": api.account()["id"], "product": "single",
                                  "route": "31"})
        assert response.status_code == 409
        assert response.get_json()["error"] == ("route 31 is retired (gone from the network): "
                                                "it sells no new pass")
        assert "vexe: route 31 is retired" in cli.fails(
            "pass", "issue", api.account()["id"], "--product", "single", "--route", "31")
        assert [r["code"] for r in api.ok("GET", "/api/catalogue", token=None)["routes"]] == ["32"]
        month = orders.months_on_sale(clock.now(), 28)[0]
        response = api.call("POST", "/api/orders", token=api.account()["rider_token"],
                            json={"product": "single", "route": "31", "month": month})
        assert response.status_code == 409 and "route 31 is retired" in response.get_json()["error"]
        # Back in a later feed, it sells again.
        summary = imported(cli, tmp_path, city())
        assert summary["routes"]["restored"] == ["31"]
        api.issue(api.account()["id"], "single", route="31")

    def test_a_stop_gone_is_retired_and_keeps_its_id(self, cli, tmp_path, session):
        imported(cli, tmp_path, city())

        def fewer(files):
            files["stops.txt"] = [r for r in files["stops.txt"] if r[0] != "S3_1"]
            files["stop_times.txt"] = [r for r in files["stop_times.txt"] if r[3] != "S3_1"]

        summary = imported(cli, tmp_path, edited(fewer))
        assert summary["stops"]["retired"] == 1
        session.expire_all()
        assert session.get(Stop, "S3_1").retired_at is not None
        assert session.get(Stop, "S3_0").retired_at is None
        assert json.dumps(summary, ensure_ascii=False)
