"""The Validators table in pages: silent validators first, then flagged ones, then the rest,
each group heard from longest ago first; the JSON says how many there are in all; the CSV is
the whole fleet; bad paging parameters are a 400; the page's summaries (the silent, the
flagged, the worst refusal rates) cover every validator whichever page is shown."""

from __future__ import annotations

import json
import os

import pytest

from backoffice import buckets, reports
from ridership_testkit import TripMaker
from shared import clock
from shared.redis_keys import TRIPS_STREAM, heartbeat
from tests.testkit import put_beat
from tests.issuer.conftest import api, app, client, config, initialised, session  # noqa: F401
from test_console_heartbeats import admin, tokens  # noqa: F401
from test_console_pages import CHROMIUM, browser, server, sign_in, staff  # noqa: F401

HOUR = 3600
HEALTHY = [f"H{n:02d}" for n in range(12)]
# The whole table, in its order: silent for two hours and more (the longest first), then
# the two with a large backlog (the one heard from longest ago first), then the healthy
# ones, H11 heard from longest ago.
ORDER = ["S2", "S1", "S0", "F0", "F1", *reversed(HEALTHY)]


@pytest.fixture
def fleet(admin, worker_factory):
    """Seventeen validators with heartbeats; H03 refused every scan today, H04 none. Their
    trips were synced ten minutes ago: before any healthy beat, so beats set the order."""
    worker = worker_factory()
    now = clock.now()
    ages = {**{f"S{n}": 2 * HOUR + 60 * n for n in range(3)}, "F0": 50, "F1": 40,
            **{h: 10 * (n + 1) for n, h in enumerate(HEALTHY)}}
    for validator, age in ages.items():
        beat = {"at": now - age, "validator": validator, "vehicle": f"29B-{validator}",
                "backlog": 2 * reports.BACKLOG_LIMIT if validator.startswith("F") else 0}
        put_beat(admin, validator, json.dumps(beat), at=beat["at"])
    today_ms = buckets.day_start(buckets.today(now)) * 1000
    m, synced_ms = TripMaker(), max(today_ms + 2000, int(now * 1000) - 600_000)
    trips = [m.refused("stale_proof", validator="H03", pass_id="P000000003", at_ms=today_ms),
             m.refused("stale_proof", validator="H03", pass_id="P000000004", at_ms=today_ms),
             m.board(validator="H04", pass_id="P000000005", at_ms=today_ms)]
    for n, trip in enumerate(trips):
        admin.xadd(TRIPS_STREAM, {"trip": trip.to_json()}, id=f"{synced_ms}-{n}")
    worker.drain(clock.now())
    return ages


def get(client, path: str, token: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def names(body: dict) -> list[str]:
    return [r["validator"] for r in body["rows"]]


class TestPages:
    def test_each_page_holds_the_next_rows_in_order(self, client, tokens, fleet):
        bodies = [get(client, f"/api/ridership/validators?limit=5&offset={n}",
                      tokens["analyst"]).get_json() for n in (0, 5, 10, 15, 20)]
        assert [names(b) for b in bodies] == [ORDER[0:5], ORDER[5:10], ORDER[10:15],
                                              ORDER[15:17], []]
        for n, body in zip((0, 5, 10, 15, 20), bodies):
            assert {k: body[k] for k in ("total", "offset", "limit", "stale", "flagged")} == {
                "total": 17, "offset": n, "limit": 5, "stale": 3, "flagged": 2}
        first = bodies[0]["rows"]
        assert [r["stale"] for r in first] == [True, True, True, False, False]
        assert [r["flags"] for r in first[3:]] == [["backlog"], ["backlog"]]

    def test_without_paging_parameters_the_first_page(self, client, tokens, fleet):
        body = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
        assert (body["offset"], body["limit"], body["total"]) == (0, reports.PAGE, 17)
        assert names(body) == ORDER  # the whole fleet fits in one page here
        assert body["heartbeats"] == "read"

    def test_a_page_has_every_column(self, client, tokens, fleet):
        [row] = get(client, "/api/ridership/validators?limit=1&offset=16",
                    tokens["analyst"]).get_json()["rows"]
        assert set(row) == set(reports.VALIDATOR_COLUMNS)
        assert (row["validator"], row["vehicle"], row["heartbeat"]) == ("H00", "29B-H00", "ok")

    def test_the_csv_is_the_whole_fleet_or_the_page_asked_for(self, client, tokens, fleet):
        whole = csv_rows(get(client, "/api/ridership/validators?format=csv",
                             tokens["analyst"]))
        assert [r["validator"] for r in whole] == ORDER
        page = csv_rows(get(client, "/api/ridership/validators?format=csv&limit=4&offset=3",
                            tokens["analyst"]))
        assert [r["validator"] for r in page] == ORDER[3:7]
        assert page[0]["flags"] == "backlog" and whole[0]["flags"] == "stale"

    def test_rates_and_counts_on_any_page(self, client, tokens, fleet):
        rows = {r["validator"]: r for r in get(client, "/api/ridership/validators?limit=1000",
                                                  tokens["analyst"]).get_json()["rows"]}
        assert (rows["H03"]["scans_today"], rows["H03"]["refusal_rate_today"]) == (2, 1.0)
        assert (rows["H04"]["scans_today"], rows["H04"]["refusal_rate_today"]) == (1, 0.0)

    @pytest.mark.parametrize("query, message", [
        ("offset=-1", "offset must be a whole number from 0 to 1000000"),
        ("offset=abc", "offset must be"),
        ("offset=1.5", "offset must be"),
        ("offset=%C2%B2", "offset must be"),  # "²", a digit to str.isdigit(), not to int()
        ("offset=1000001", "offset must be"),
        ("offset=" + "9" * 5000, "offset must be"),
        ("limit=0", "limit must be a whole number from 1 to 1000"),
        ("limit=1001", "limit must be"),
        ("limit=%C2%B2", "limit must be"),
        ("limit=five", "limit must be"),
        ("limit=5&offset=x&format=csv", "offset must be"),
    ])
    def test_bad_paging_is_400(self, client, tokens, fleet, admin, query, message):
        before = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
        got = get(client, f"/api/ridership/validators?{query}", tokens["analyst"])
        assert got.status_code == 400 and message in got.get_json()["error"]
        after = get(client, "/api/ridership/validators", tokens["analyst"]).get_json()
        assert names(after) == names(before) == ORDER
        assert admin.exists(*(heartbeat(v) for v in fleet)) == len(fleet)

    def test_other_tables_refuse_a_limit_that_is_not_ascii_digits(self, client, tokens):
        got = get(client, "/api/ridership/routes?limit=%C2%B2", tokens["analyst"])
        assert got.status_code == 400 and "limit must be" in got.get_json()["error"]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    lines = response.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].split(",") == list(reports.VALIDATOR_COLUMNS)
    return [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_shows_one_page_and_every_summary(sign_in, server, fleet):
    page = sign_in("analyst")
    page.goto(f"{server}/lang/en")  # the page read in English
    page.goto(f"{server}/console/ridership/validators?limit=5&offset=5")
    page.click("#validators summary")
    assert shown(page) == ORDER[5:10]
    assert "Rows 6–10 of 17" in page.locator("#validators nav.pager").inner_text()
    # The silent and the flagged are none of this page's rows, and still listed.
    stale = page.locator("#stale").inner_text()
    assert all(v in stale for v in ("S0", "S1", "S2")) and stale.startswith("3 ")
    flagged = page.locator("#flagged").inner_text()
    assert "F0" in flagged and "F1" in flagged and "large backlog" in flagged
    page.wait_for_selector("#validators[data-drawn=true]")
    labels = page.evaluate("document.querySelector('#validators canvas').chart.data.labels")
    assert labels == ["H03", "H04"]  # the validators that scanned today, worst first

    page.click("#validators a[rel=next]")
    page.wait_for_load_state()
    page.click("#validators summary")
    assert shown(page) == ORDER[10:15]
    page.click("#validators a[rel=next]")
    page.wait_for_load_state()
    page.click("#validators summary")
    assert shown(page) == ORDER[15:17]
    assert page.locator("#validators a[rel=next]").count() == 0
    assert "Rows 16–17 of 17" in page.locator("#validators nav.pager").inner_text()
    page.click("#validators a[rel=prev]")
    page.wait_for_load_state()
    page.click("#validators summary")
    assert shown(page) == ORDER[10:15]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_starts_with_the_silent_and_says_when_paging_is_wrong(sign_in, server,
                                                                       fleet):
    page = sign_in("analyst")
    page.goto(f"{server}/lang/en")  # the page read in English
    page.goto(f"{server}/console/ridership/validators?limit=3&offset=-3")
    assert page.locator(".flash.error", has_text="offset must be a whole number").count() == 1
    page.click("#validators summary")
    # The first page, of the default size: every validator here, the silent first.
    assert shown(page) == ORDER
    assert page.locator("#validators tbody tr.stale").count() == 3
    assert page.locator("#validators a[rel=prev]").count() == 0


def shown(page) -> list[str]:
    return [cell.strip() for cell in
            page.locator("#validators tbody tr td:first-child").all_inner_texts()]
