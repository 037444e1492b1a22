"""The Validators page and ``/api/ridership/validators`` with the validators' heartbeats: an
idle validator is alive by its heartbeat, not stale by its last trip; a validator known only
by its heartbeat is listed; garbage in a heartbeat key is shown as unreadable; without Redis
the page answers from the database and says so; a validator the ingest switched off is
flagged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
from redis.backoff import ExponentialBackoff

from issuer.identity import operators
from backoffice import heartbeats, reports
from ridership_testkit import TripMaker
from tests.testkit import beat_of, put_beat, wait_for
from shared import clock, i18n
from shared.redis_keys import TRIPS_STREAM, heartbeat, inbox
from tests.identity.conftest import sign_in as sign_in_form
from tests.issuer.conftest import api, app, client, config, initialised, session  # noqa: F401
from test_console_pages import CHROMIUM, browser, server, sign_in, staff  # noqa: F401
from validator.device import Validator
from validator.heartbeat import Heartbeat
from validator.sync import Syncer, connect
from validator.timekeeping import MAX_ROUND_TRIP, Clock

VEXE = Path(sys.executable).parent / "vexe"
HOUR = 3600
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def admin(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def tokens(session):
    operators.create(session, "op-analyst", [operators.ANALYST], now=clock.now())
    token = operators.issue_token(session, "op-analyst", operators.ANALYST, now=clock.now())[1]
    session.commit()
    return {"analyst": token}


def get(client, path: str, token: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def rows_by_validator(body: dict) -> dict[str, dict]:
    return {r["validator"]: r for r in body["rows"]}


def push_at(client: redis.Redis, ms: int, *trips) -> None:
    """Trips as if Redis had taken them at ``ms``: the stream id is the time of the sync."""
    for n, trip in enumerate(trips):
        client.xadd(TRIPS_STREAM, {"trip": trip.to_json()}, id=f"{ms}-{n}")


@pytest.fixture
def running_validator(tmp_path, redis_url):
    """``vexe validator run`` for V-IDLE on route 32, idle: no one scans."""
    env = {**os.environ, "VEXE_REDIS_URL": redis_url, "VEXE_DATA_DIR": str(tmp_path / "bus")}
    log = open(tmp_path / "validator.log", "wb")
    proc = subprocess.Popen([str(VEXE), "validator", "run", "--id", "V-IDLE", "--vehicle",
                             "29B-900.01", "--route", "32", "--http-port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, env=env)
    log.close()
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    finally:
        proc.kill()
        proc.stdin.close()


def test_an_idle_validator_is_alive_by_its_heartbeat(client, tokens, admin, worker_factory,
                                                     running_validator, app):
    worker = worker_factory()
    beat = wait_for(lambda: beat_of(admin, "V-IDLE"))

    # Known by its heartbeat alone: no trip yet.
    body = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
    assert body["heartbeats"] == "read"
    row = rows_by_validator(body)["V-IDLE"]
    assert {k: row[k] for k in ("vehicle", "route", "mode", "heartbeat", "backlog",
                                "oldest_unsent_ms", "storage", "last_scan_ms", "last_sync_ms",
                                "stale", "flags")} == {
        "vehicle": "29B-900.01", "route": "32", "mode": "board", "heartbeat": "ok",
        "backlog": 0, "oldest_unsent_ms": None, "storage": "ok", "last_scan_ms": None,
        "last_sync_ms": None, "stale": False, "flags": []}
    assert row["last_beat_ms"] >= int(beat["at"] * 1000)
    assert row["journal_epoch"] == beat["journal_epoch"] and row["storage_free_bytes"] > 0

    # Its last trips came in two hours ago, and another bus's too, which sends no heartbeat.
    then = int((clock.now() - 2 * HOUR) * 1000)
    m = TripMaker()
    push_at(admin, then, m.board(validator="V-IDLE", vehicle="29B-900.01", at_ms=then - 5000),
            m.board(validator="V-QUIET", vehicle="29B-901.01", at_ms=then - 4000))
    worker.drain(clock.now())
    body = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
    idle, quiet = (rows_by_validator(body)[v] for v in ("V-IDLE", "V-QUIET"))
    assert idle["last_sync_ms"] == then and idle["since_sync_s"] > reports.STALE_AFTER
    assert (idle["heartbeat"], idle["stale"], idle["flags"]) == ("ok", False, [])
    assert (quiet["heartbeat"], quiet["stale"], quiet["flags"]) == ("none", True, ["stale"])
    assert [r["validator"] for r in body["rows"]] == ["V-QUIET", "V-IDLE"]  # silent first

    csv = get(client, "/api/ridership/validators?format=csv", tokens["analyst"])
    lines = csv.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].split(",") == list(reports.VALIDATOR_COLUMNS) and len(lines) == 3
    cells = {line.split(",")[0]: dict(zip(lines[0].split(","), line.split(",")))
             for line in lines[1:]}
    assert cells["V-QUIET"]["flags"] == "stale" and cells["V-IDLE"]["flags"] == ""
    assert cells["V-IDLE"]["heartbeat"] == "ok" and cells["V-IDLE"]["backlog"] == "0"

    # Redis away: the trips alone, and the answer says so.
    app.config["REDIS_URL"] = DEAD_REDIS
    away = get(client, "/api/ridership/validators", tokens["analyst"])
    assert away.status_code == 200
    body = away.get_json()
    assert body["heartbeats"] == "unavailable" and "unreachable" in body["heartbeats_error"]
    idle = rows_by_validator(body)["V-IDLE"]
    assert (idle["heartbeat"], idle["stale"], idle["last_beat_ms"]) == ("unknown", True, None)
    assert get(client, "/api/ridership/validators?format=csv",
               tokens["analyst"]).status_code == 200


def first_beat(device: Validator, url: str, admin: redis.Redis, **options) -> dict:
    """Run the device's sync (as ``vexe validator run`` does, quickly) until its heartbeat
    is in Redis, then stop it; the heartbeat it left (read after the stop: a beat may come
    between the first one seen and the stop)."""
    client = connect(url)
    syncer = Syncer(device.journal, device.lists, client, validator_id=device.validator_id,
                    clock=device.clock, push_every=0.05,
                    backoff=ExponentialBackoff(cap=0.1, base=0.05),
                    heartbeat=Heartbeat(device, every=0.05), **options)
    stop = threading.Event()
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: beat_of(admin, device.validator_id))
    finally:
        stop.set()
        thread.join(10)
        client.close()
    assert not thread.is_alive(), "the sync did not stop"
    return beat_of(admin, device.validator_id)


def test_staleness_follows_the_heartbeat_not_the_trips(worker_factory, session, tmp_path,
                                                       redis_url, admin):
    # (worker_factory first: its database is disposed of after the session is closed)
    """A heartbeat gone quiet for longer than STALE_AFTER is stale even with a recent sync;
    without the heartbeats the same validator is judged by its sync."""
    worker = worker_factory()
    with Validator(validator_id="V-BEAT", vehicle="29B-902.01", route="32",
                   data_dir=tmp_path / "bus") as device:
        beat = first_beat(device, redis_url, admin)
    later = beat["at"] + reports.STALE_AFTER + 60
    synced_ms = int((later - 60) * 1000)  # a sync a minute before "later"
    push_at(admin, synced_ms, TripMaker().board(validator="V-BEAT", at_ms=synced_ms - 1000))
    worker.drain(clock.now())

    beats = heartbeats.read(redis_url)
    [row] = reports.validators(session, now=later, beats=beats).rows()
    # (whole seconds, from float sums: 60 may come out as 59)
    assert row["since_sync_s"] in (59, 60)
    assert row["since_beat_s"] in (reports.STALE_AFTER + 59, reports.STALE_AFTER + 60)
    assert row["stale"] and row["flags"] == ["stale"]
    [row] = reports.validators(session, now=later, beats=None).rows()
    assert not row["stale"] and row["heartbeat"] == "unknown"
    [row] = reports.validators(session, now=beat["at"] + 60, beats=beats).rows()
    assert not row["stale"]


def test_what_needs_looking_at_is_flagged(tmp_path, session, redis_server):
    """One bus with its clock 10 s slow, a small journal nearly full, and a thousand scans
    Redis has not confirmed (no replica holds them), the oldest twenty minutes old; and one
    bus in good health. (The scans are refused as malformed: journaled like any other.)"""
    slow = Clock(source=lambda: clock.now() - 10)
    sick = Validator(validator_id="V-SICK", vehicle="29B-903.01", route="32",
                     data_dir=tmp_path / "sick", journal_max_bytes=4 * 1024 * 1024, clock=slow)
    well = Validator(validator_id="V-WELL", vehicle="29B-904.01", route="32",
                     data_dir=tmp_path / "well")
    admin = redis.Redis.from_url(redis_server.url)
    try:
        sick.scan("not a QR", clock.now() - 1200)
        for _ in range(reports.BACKLOG_LIMIT - 1):
            sick.scan("not a QR", clock.now())
        first_beat(sick, redis_server.url, admin, min_replicas=1, replica_wait_ms=10)
        first_beat(well, redis_server.url, admin)
    finally:
        sick.close()
        well.close()
        admin.close()
    rows = {r["validator"]: r for r in reports.validators(
        session, now=clock.now(), beats=heartbeats.read(redis_server.url)).rows()}
    sick_row, well_row = rows["V-SICK"], rows["V-WELL"]
    assert sick_row["flags"] == ["storage", "backlog", "unsent", "clock"]
    assert sick_row["backlog"] == reports.BACKLOG_LIMIT
    assert sick_row["oldest_unsent_age_s"] > reports.UNSENT_LIMIT
    # Measured from a round trip no slower than MAX_ROUND_TRIP: off by half of it at most.
    assert abs(sick_row["clock_offset_redis_s"] - 10) <= MAX_ROUND_TRIP / 2
    assert sick_row["storage_free_bytes"] < reports.LOW_STORAGE and not sick_row["stale"]
    assert well_row["flags"] == [] and well_row["backlog"] == 0


GARBAGE = {
    "V-NOTJSON": b"\xff\xfe garbage",
    "V-LIST": b"[1, 2, 3]",
    "V-BADFIELD": b'{"at": 1795000000.5, "backlog": "lots"}',
    "V-INFINITE": b'{"at": 1795000000.5, "clock_offset_s": Infinity}',
    "V-LIAR": b'{"at": 1795000000.5, "validator": "V-OTHER"}',
}


FULL_BEAT = {"at": 1795000000.5, "validator": "V-X", "vehicle": "29B-906.01", "company": "C1",
             "route": "32", "stop": "S01", "mode": "board", "device_time": 1795000001,
             "clock_offset_s": -0.25, "clock_checked_at": 1795000000, "backlog": 3,
             "oldest_unsent_ms": 1794999990000, "trust_kids": ["k1", "k" * 80],
             "trust_fetched_at": 1794999900.0, "denylist_issued_at": 1794999000,
             "denylist_entries": 12, "denylist_fetched_at": 1794999900, "storage": "ok",
             "storage_free_bytes": 2**40, "disk_free_bytes": 2**41, "journal_bytes": 10,
             "journal_max_bytes": 2**30, "journal_epoch": "e" * 100, "software": "1.4.0",
             "every_s": 30, "a field of a later version": [1]}


@pytest.mark.parametrize("raw", [
    json.dumps(FULL_BEAT).encode(), b'{"at": 1}', b'{"at": 1, "backlog": 99999999999999999999999}',
    b'{"at": 1e400}', b'{"at": 0}', b'{"at": true}', b'{"at": 1, "every_s": -1e400}',
    b'{"at": 1, "backlog": -1}', b'{"at": 1, "backlog": 1.0}', b'{"at": 1, "mode": 1}',
    b'{"at": 1, "trust_kids": [1]}', b'{"at": 1, "vehicle": "\\ud800"}', b'{"at": 1, "at": 2}',
    b'{"at": 1, "validator": "V-Y"}', b'{"at": 1, "validator": null}', b"null", b"",
    *GARBAGE.values()])
def test_a_beat_reads_the_same_by_either_path(raw):
    """The one-pass decoder and the field-by-field checks agree on every beat, the ones
    validators write and the ones no validator writes."""
    assert heartbeats.parse(raw, "V-X", 1795000000.5) == heartbeats._checked(raw, "V-X",
                                                                            1795000000.5)


def test_garbage_in_a_heartbeat_key_is_shown_unreadable(client, tokens, admin, session):
    for validator, value in GARBAGE.items():
        put_beat(admin, validator, value, at=clock.now())
    admin.hset(heartbeat("V-HASH"), "at", "1")  # a key of another type
    admin.set(heartbeat(""), b'{"at": 1}')  # no validator named: not a row
    got = get(client, "/api/ridership/validators", tokens["analyst"])
    assert got.status_code == 200
    rows = rows_by_validator(got.get_json())
    assert set(rows) == set(GARBAGE) | {"V-HASH"}
    for validator, row in rows.items():
        assert row["heartbeat"] == "unreadable" and row["stale"], validator
        assert row["flags"] == ["stale", "unreadable"] and row["heartbeat_problem"], validator
    assert rows["V-BADFIELD"]["heartbeat_problem"] == "backlog is not a whole number"
    assert rows["V-LIAR"]["heartbeat_problem"] == "it names another validator, 'V-OTHER'"
    assert "WRONGTYPE" in rows["V-HASH"]["heartbeat_problem"]
    assert get(client, "/api/ridership/validators?format=csv",
               tokens["analyst"]).status_code == 200


def test_the_csv_gives_a_beats_formula_as_text_and_its_numbers_as_numbers(client, tokens,
                                                                          admin):
    """A validator's software and key ids come from the bus: "=..." and "-..." reach the
    spreadsheet as text; a negative clock offset is a number and stays one."""
    beat = {**FULL_BEAT, "validator": "V-FORMULA", "at": clock.now(), "software": "=cmd|'/c'",
            "trust_kids": ["-k1", "k2"], "clock_offset_s": -0.25, "journal_epoch": "@e1",
            "oldest_unsent_ms": None}
    put_beat(admin, "V-FORMULA", json.dumps(beat), at=beat["at"])
    got = get(client, "/api/ridership/validators?format=csv", tokens["analyst"])
    assert got.status_code == 200
    [row] = csv.DictReader(io.StringIO(got.text.lstrip("\ufeff")))
    assert row["software"] == "'=cmd|'/c'" and row["journal_epoch"] == "'@e1"
    assert row["trust_kids"] == "'-k1 k2" and row["flags"] == ""
    assert row["clock_offset_redis_s"] == "-0.25" and row["backlog"] == "3"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_shows_heartbeats_and_says_when_it_cannot(sign_in, server, app, tmp_path,
                                                           redis_url, admin, stream,
                                                           worker_factory):
    worker = worker_factory()
    stream.push(TripMaker().board(validator="V-PAGE", vehicle="29B-905.01",
                                  at_ms=int(clock.now() * 1000)))
    worker.drain(clock.now())
    with Validator(validator_id="V-PAGE", vehicle="29B-905.01", route="32",
                   data_dir=tmp_path / "bus") as device:
        beat = first_beat(device, redis_url, admin)
    put_beat(admin, "V-GARBAGE", b"}{ not a heartbeat", at=clock.now())

    page = sign_in("analyst")
    page.goto(f"{server}/lang/en?next=/console/ridership/validators")  # read in English
    page.click("#validators summary")
    shown = cells_of(page, "V-PAGE")
    at = dt.datetime.fromtimestamp(int(beat["at"] * 1000) / 1000, tz=clock.HANOI)
    assert shown["Last heartbeat"] == f"{at:%H:%M:%S}, {i18n.day(at.date(), 'en')}"
    assert (shown["Backlog"], shown["Flags"]) == ("0", "—")
    garbage = page.locator("#validators tbody tr", has_text="V-GARBAGE")
    assert "unreadable" in garbage.inner_text() and garbage.get_attribute("class") == "stale"
    assert "V-GARBAGE" in page.locator("#stale").inner_text()
    assert "V-PAGE" not in page.locator("#stale").inner_text()
    flagged = page.locator("#flagged").inner_text()
    assert "V-GARBAGE" in flagged and "heartbeat unreadable" in flagged and "not JSON" in flagged
    assert page.locator("#heartbeats-unavailable").count() == 0

    app.config["REDIS_URL"] = DEAD_REDIS
    page.goto(f"{server}/console/ridership/validators")
    note = page.locator("#heartbeats-unavailable")
    assert note.is_visible() and "Redis" in note.inner_text()
    assert "V-GARBAGE" not in page.content()  # known by its heartbeat only
    page.click("#validators summary")
    shown = cells_of(page, "V-PAGE")  # known by its trips: recent, so not stale
    assert (shown["Last heartbeat"], shown["Backlog"]) == ("unknown", "—")
    assert "V-PAGE" not in page.locator("#stale").inner_text()


def cells_of(page, validator: str) -> dict[str, str]:
    """A row of the validators table by the name of each column (the page in English)."""
    names = [h.strip() for h in page.locator("#validators thead th").all_text_contents()]
    row = page.locator("#validators tbody tr", has_text=validator)
    return dict(zip(names, (c.strip() for c in row.locator("td").all_inner_texts())))


def test_a_validator_the_ingest_switched_off_is_flagged(client, app, tokens, admin, session,
                                                        worker_factory):
    """A validator that flooded its inbox by hand (a stolen password) is switched off by the
    ingest (backoffice.inbox.police): the Validators page and its JSON flag it, even one the
    console knew nothing of (it never pushed a trip, never beat)."""
    admin.rpush(inbox("V-FLOOD"), *["junk"] * 1001)
    [done] = worker_factory(inbox_quota=1000).police(clock.now())
    assert done.validator == "V-FLOOD" and done.kept == 1000
    body = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
    assert body["switched_off"] == ["V-FLOOD"] and body["flagged"] == 1
    assert rows_by_validator(body)["V-FLOOD"]["flags"] == ["stale", "off"]

    operators.create(session, "op-web", [operators.ANALYST], now=clock.now(),
                     password="correct horse battery staple")
    session.commit()
    browser = app.test_client()
    assert sign_in_form(browser, "op-web", "correct horse battery staple").status_code == 302
    page = browser.get("/console/ridership/validators").text
    assert "<strong>V-FLOOD</strong>: im lặng, đã bị tắt: ghi quá nhiều vào Redis" in page
