"""``vexe export tides`` and ``vexe export gtfs-fares`` as an operator runs them (the console
script, in a process of its own), on trips pushed through the real ingest and a network
imported from a GTFS feed.

The TIDES files are validated against the specification's published table schemas
(tests/ridership/tides/, with the ``frictionless`` library): every required field, type,
enum and constraint. The GTFS-Fares v2 files are read beside the feed by a validator of the
canonical GTFS rule set (the ``gtfs-validator`` package), and checked against the catalogue
as the public API serves it."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import frictionless
import pytest

from backoffice import buckets
from network_testkit import A, B, C, seed
from tests.issuer.conftest import api, app, cli, client, config, initialised, session  # noqa: F401
from tests.network.test_gtfs_import import city

BIN = Path(sys.executable).parent
VEXE = str(BIN / "vexe")  # the console script pip installed
SCHEMAS = Path(__file__).parent / "tides"
TABLES = ("fare_transactions", "passenger_events", "devices")


@pytest.fixture
def env(initialised):
    return {**os.environ, "VEXE_DATABASE_URL": initialised["DATABASE_URL"],
            "VEXE_REDIS_URL": initialised["REDIS_URL"], "VEXE_DATA_DIR": initialised["DATA_DIR"]}


def vexe(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([VEXE, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=120)


def ok(env, *args) -> dict:
    result = vexe(env, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(env, *args) -> str:
    """A command that must fail on bad input: exit 2, one line saying why, nothing else."""
    result = vexe(env, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def valid(directory: Path, table: str) -> frictionless.Report:
    schema = frictionless.Schema.from_descriptor(
        json.loads((SCHEMAS / f"{table}.schema.json").read_text(encoding="utf-8")))
    return frictionless.validate(frictionless.Resource(path=f"{table}.csv",
                                                       basepath=str(directory), schema=schema))


def errors(report: frictionless.Report) -> list:
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


@pytest.fixture
def seeded(cli, stream, worker_factory, tmp_path):
    return seed(cli, stream, worker_factory, tmp_path)


def today(seeded) -> str:
    return buckets.date_of(buckets.day_of(seeded["t0"])).isoformat()


class TestTides:
    def test_the_three_tables_validate_against_the_published_schemas(self, env, seeded,
                                                                     tmp_path):
        out = tmp_path / "tides"
        summary = ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
                     "--out", out)
        assert (summary["fare_transactions"], summary["passenger_events"],
                summary["devices"]) == (8, 8, 5)  # the refused scan is in neither table
        for table in TABLES:
            report = valid(out, table)
            assert report.valid, errors(report)
            schema = json.loads((SCHEMAS / f"{table}.schema.json").read_text(encoding="utf-8"))
            header = (out / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
            assert header.split(",") == [f["name"] for f in schema["fields"]]  # every column
            assert (out / f"{table}.csv").stat().st_mode & 0o077 == 0  # owner-only
        assert sorted(p.name for p in out.iterdir()) == [f"{t}.csv" for t in sorted(TABLES)]

    def test_what_the_rows_say(self, env, seeded, tmp_path):
        out = tmp_path / "tides"
        ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
           "--out", out)
        fares = {r["transaction_id"]: r for r in read(out / "fare_transactions.csv")}
        trips = {t.pass_id + t.mode: t for t in seeded["trips"]}
        p1 = fares[trips["P000000001board"].id]
        assert (p1["fare_action"], p1["amount"], p1["currency_type"], p1["fare_media_id"],
                p1["fare_capped"], p1["num_riders"]) == ("Enter", "0", "VND", "Optical scan",
                                                         "false", "1")
        assert (p1["vehicle_id"], p1["device_id"], p1["stop_id"]) == (
            A, "V-29B-100.01-front", "S1_0")
        assert (p1["fare_product"], p1["rider_category"]) == ("multi", "general")
        assert p1["service_date"] == today(seeded)
        assert p1["event_timestamp"] == dt.datetime.fromtimestamp(
            seeded["t0"] / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert fares[trips["P000000001alight"].id]["fare_action"] == "Exit"
        elderly = fares[trips["P000000004board"].id]
        assert (elderly["fare_product"], elderly["rider_category"]) == ("free:elderly",
                                                                         "elderly")
        student = fares[trips["P000000006board"].id]
        assert (student["fare_product"], student["rider_category"]) == ("single", "student")
        # A stop the network lacks (a driver's text) is no GTFS stop id.
        assert fares[trips["P000000005board"].id]["stop_id"] == ""
        assert trips["P000000007board"].id not in fares  # refused
        events = read(out / "passenger_events.csv")
        assert {e["passenger_event_id"] for e in events} == set(fares)
        kinds = {e["passenger_event_id"]: e["event_type"] for e in events}
        assert kinds[trips["P000000002alight"].id] == "Passenger alighted"
        assert kinds[trips["P000000002board"].id] == "Passenger boarded"

    def test_stops_are_numbered_through_each_vehicle_day(self, env, seeded, tmp_path):
        out = tmp_path / "tides"
        ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
           "--out", out)
        events = read(out / "passenger_events.csv")
        by_vehicle = {}
        for e in events:
            by_vehicle.setdefault(e["vehicle_id"], []).append(
                (e["event_timestamp"], e["stop_id"], int(e["trip_stop_sequence"])))
        # Bus A: S1_0, "Cầu Giấy" (no GTFS id), S4_0; bus B: S4_1, S2_1, then S1_1 twice.
        assert [(s, n) for _, s, n in sorted(by_vehicle[A])] == [("S1_0", 1), ("", 2),
                                                                  ("S4_0", 3)]
        assert [(s, n) for _, s, n in sorted(by_vehicle[B])] == [
            ("S4_1", 1), ("S2_1", 2), ("S1_1", 3), ("S1_1", 3)]
        assert [(s, n) for _, s, n in sorted(by_vehicle[C])] == [("S2_0", 1)]
        # Which way each rider went: the route and direction whose stops the stop is.
        assert {(e["stop_id"], e["pattern_id"]) for e in events} == {
            ("S1_0", "32:0"), ("S4_0", "32:0"), ("S4_1", "32:1"), ("S2_1", "32:1"),
            ("S1_1", "32:1"), ("S2_0", "31:0"), ("", "")}
        fares = {f["transaction_id"]: f["pattern_id"]
                 for f in read(out / "fare_transactions.csv")}
        assert fares == {e["passenger_event_id"]: e["pattern_id"] for e in events}
        devices = {d["device_id"]: d for d in read(out / "devices.csv")}
        assert set(devices) == {"V-29B-100.01-front", "V-29B-100.01-rear",
                                "V-29B-200.02-front", "V-29B-200.02-rear",
                                "V-29B-300.03-front"}
        rear = devices["V-29B-200.02-rear"]
        assert (rear["vehicle_id"], rear["device_type"], rear["device_location"]) == (
            B, "Farebox", "Alighting door")

    def test_pass_ids_are_keyed_pseudonyms(self, env, seeded, tmp_path, initialised):
        out = tmp_path / "tides"
        ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
           "--out", out)
        for table in TABLES:
            assert "P00000000" not in (out / f"{table}.csv").read_text(encoding="utf-8")
        fares = read(out / "fare_transactions.csv")
        trips = {t.id: t for t in seeded["trips"]}
        # HMAC-SHA256 under a key derived from the server's national-ID key (docs/exports.md).
        secret = (Path(initialised["DATA_DIR"]) / "national-id.key").read_text().strip()
        key = hmac.new(bytes.fromhex(secret), b"vexe export pseudonym v1",
                       hashlib.sha256).digest()
        for row in fares:
            pass_id = trips[row["transaction_id"]].pass_id
            assert row["token_id"] == hmac.new(key, pass_id.encode(),
                                               hashlib.sha256).hexdigest()[:32]
        tokens = {}
        for row in fares:
            tokens.setdefault(trips[row["transaction_id"]].pass_id, set()).add(row["token_id"])
        assert all(len(t) == 1 for t in tokens.values())  # one pass, one pseudonym
        assert len({t for ts in tokens.values() for t in ts}) == len(tokens) == 6
        # The next export names each pass as this one did: its trips link across exports.
        again = tmp_path / "again"
        ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
           "--out", again)
        assert read(again / "fare_transactions.csv") == read(out / "fare_transactions.csv")

    def test_products_and_categories_join_the_gtfs_fares_export(self, env, seeded, tmp_path):
        """What each transaction says was used is a product and category the GTFS-Fares
        export lists, at the price a planner reads there."""
        ok(env, "export", "tides", "--since", today(seeded), "--until", today(seeded),
           "--out", tmp_path / "tides")
        ok(env, "export", "gtfs-fares", "--out", tmp_path / "fares")
        offered = {(p["fare_product_id"], p["rider_category_id"])
                   for p in read(tmp_path / "fares" / "fare_products.txt")}
        used = {(f["fare_product"], f["rider_category"])
                for f in read(tmp_path / "tides" / "fare_transactions.csv")}
        assert used == {("multi", "general"), ("single", "general"), ("single", "student"),
                        ("free:elderly", "elderly")}
        assert used <= offered

    def test_a_period_without_trips_is_headers_only_and_valid(self, env, seeded, tmp_path):
        out = tmp_path / "empty"
        summary = ok(env, "export", "tides", "--since", "2026-01-01", "--until", "2026-01-31",
                     "--out", out)
        assert (summary["fare_transactions"], summary["devices"]) == (0, 0)
        for table in TABLES:
            assert len((out / f"{table}.csv").read_text().splitlines()) == 1
            assert valid(out, table).valid

    @pytest.mark.parametrize("args, message", [
        (("--since", "2026-11-20", "--until", "2026-11-19"), "ends before it starts"),
        (("--since", "2025-01-01", "--until", "2026-11-19"), "at most 366 days"),
        (("--since", "20.11.2026", "--until", "2026-11-19"), "YYYY-MM-DD"),
    ])
    def test_a_bad_period_is_refused_and_nothing_written(self, env, seeded, tmp_path, args,
                                                         message):
        out = tmp_path / "tides"
        assert message in refused(env, "export", "tides", *args, "--out", out)
        assert not out.exists()

    def test_an_out_that_is_a_file_is_refused(self, env, seeded, tmp_path):
        out = tmp_path / "a-file"
        out.write_text("keep me")
        assert "not a directory" in refused(env, "export", "tides", "--since", today(seeded),
                                            "--until", today(seeded), "--out", out)
        assert out.read_text() == "keep me"


class TestGtfsFares:
    def test_the_catalogue_as_fares_v2(self, env, initialised, api, tmp_path):
        out = tmp_path / "fares"
        summary = ok(env, "export", "gtfs-fares", "--out", out)
        riders = read(out / "rider_categories.txt")
        media = read(out / "fare_media.txt")
        products = read(out / "fare_products.txt")
        assert summary["fare_products.txt"] == len(products)
        assert media == [{"fare_media_id": "vexe_app", "fare_media_type": "4",
                          "fare_media_name": media[0]["fare_media_name"]}]
        assert [r["rider_category_id"] for r in riders if r["is_default_fare_category"] == "1"
                ] == ["general"]
        # Every id a product names exists; amounts in whole dong, as the catalogue says.
        assert {p["rider_category_id"] for p in products} <= {r["rider_category_id"]
                                                              for r in riders}
        assert {p["fare_media_id"] for p in products} == {"vexe_app"}
        assert {p["currency"] for p in products} == {"VND"}
        catalogue = api.ok("GET", "/api/catalogue", token=None)
        price = {(p["fare_product_id"], p["rider_category_id"]): int(p["amount"])
                 for p in products}
        expected = {}
        for product in catalogue["products"]:
            if product["code"] == "free":
                continue
            expected[product["code"], "general"] = product["price_vnd"]
            for category, amount in product["reduced_prices"].items():
                expected[product["code"], category] = amount
        free = [c["code"] for c in catalogue["categories"] if c["kind"] == "free"]
        expected.update({(f"free:{c}", c): 0 for c in free})
        assert price == expected
        assert expected["multi", "general"] == 200_000 and expected["single", "student"] == 55_000
        names = {p["fare_product_id"]: p["fare_product_name"] for p in products}
        assert names["free:elderly"] == "Thẻ miễn phí đi xe buýt: Người cao tuổi"
        assert {r["rider_category_id"]: r["rider_category_name"] for r in riders}[
            "student"] == "Học sinh, sinh viên"

    def test_a_gtfs_validator_reads_them_beside_the_feed_without_an_error(self, env,
                                                                          initialised,
                                                                          tmp_path):
        out = tmp_path / "fares"
        ok(env, "export", "gtfs-fares", "--out", out, "--eligibility-url",
           "https://vexe.example.vn/mien-giam")
        assert validate_feed(tmp_path, out) == []
        # The validator does read the fares: a product naming a rider category that does not
        # exist is an error it reports.
        broken = tmp_path / "broken"
        broken.mkdir()
        for name in ("fare_media.txt", "fare_products.txt"):
            (broken / name).write_bytes((out / name).read_bytes())
        riders = (out / "rider_categories.txt").read_text(encoding="utf-8").splitlines()
        (broken / "rider_categories.txt").write_text(
            "\r\n".join(line for line in riders if not line.startswith("student,")) + "\r\n",
            encoding="utf-8")
        assert "foreign_key_violation" in validate_feed(tmp_path, broken)

    def test_a_bad_eligibility_url_is_refused_and_nothing_written(self, env, initialised,
                                                                  tmp_path):
        out = tmp_path / "fares"
        for url in ("javascript:alert(1)", "not a url", "https://x.vn/a,b"):
            assert "eligibility URL" in refused(env, "export", "gtfs-fares", "--out", out,
                                                "--eligibility-url", url)
        assert not out.exists()


def validate_feed(tmp_path: Path, fares: Path) -> list[str]:
    """The codes of the ERROR notices of the canonical rules on the network tests' clean
    feed with ``fares``' files added."""
    feed = tmp_path / f"feed-{fares.name}.zip"
    with zipfile.ZipFile(feed, "w") as archive:
        for name, rows in city().items():
            archive.writestr(name, "\r\n".join(",".join(row) for row in rows) + "\r\n")
        archive.writestr("feed_info.txt", "feed_publisher_name,feed_publisher_url,feed_lang\r\n"
                                          "vexe,https://vexe.example.vn,vi\r\n")
        for path in sorted(fares.iterdir()):
            archive.write(path, path.name)
    report_dir = tmp_path / f"report-{fares.name}"
    result = subprocess.run([str(BIN / "gtfs-validator"), "-i", str(feed), "-o",
                             str(report_dir)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return sorted({n["code"] for n in report["notices"] if n["severity"] == "ERROR"})
