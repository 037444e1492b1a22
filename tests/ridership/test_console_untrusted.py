"""What the buses send reaches the console's pages and files: no value makes a page fail, no
cell runs in a spreadsheet, no parameter writes the download's file name."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import redis

from issuer.platform import db
from issuer.identity import operators
from backoffice import entries, store
from backoffice.buckets import day_of, hour_of
from ridership_testkit import TripMaker
from shared import clock
from shared.redis_keys import heartbeat
from tests.identity.conftest import sign_in
from tests.issuer.conftest import api, app, client, config, initialised, session  # noqa: F401

PASSWORD = "correct horse battery staple"
FAR = 2**53 - 1  # the largest time the ingest's decoder ever let in
MIN = 60_000


def stored_row(trip, stream_ms: int) -> entries.Row:
    """A trip as an ingest that took any time wrote it (before times were bounded)."""
    return entries.Row(trip.id, trip.validator, trip.vehicle, trip.route, trip.stop,
                       trip.at_ms, trip.decision, trip.reason, trip.pass_id, trip.product,
                       trip.category, trip.proof_at, trip.mode, None, stream_ms,
                       hour_of(trip.at_ms), day_of(trip.at_ms),
                       entries.product_key(trip.product, trip.category))


@pytest.fixture
def browsers(app, session):
    out = {}
    for role in (operators.ANALYST, operators.CLERK):
        operators.create(session, f"web-{role}", [role], now=clock.now(), password=PASSWORD)
        session.commit()
        out[role] = app.test_client()
        assert sign_in(out[role], f"web-{role}", PASSWORD).status_code == 302
    return out


@pytest.fixture
def tokens(session):
    out = {role: operators.issue_token(
        session, operators.create(session, f"api-{role}", [role], now=clock.now()).username,
        role, now=clock.now())[1] for role in (operators.ANALYST, operators.CLERK)}
    session.commit()
    return out


class TestTimesFromNoClock:
    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_no_page_fails_on_times_already_stored(self, app, browsers, tokens, config):
        """A trip at 2^53-1 ms (year 287,396) stayed a validator's last scan for good, and
        the Validators page, a pass's history and the alerts answered 500 to everyone. A
        heartbeat's time is the bus's too."""
        m = TripMaker()
        now_ms = int(clock.now() * 1000)
        far = [m.board(at_ms=FAR - MIN, pass_id="P0000000FF", vehicle="29B-100.01"),
               m.board(at_ms=FAR, pass_id="P0000000FF", vehicle="29B-777.77")]
        with db.engine(config["DATABASE_URL"]).begin() as conn:
            written = store.write(conn, [stored_row(t, now_ms) for t in far], now_ms=now_ms)
        assert written.inserted == 2 and written.alerts == 1
        client = redis.Redis.from_url(config["REDIS_URL"])
        client.set(heartbeat("V-FAR"), json.dumps({"at": 1e300, "validator": "V-FAR"}))
        client.close()
        pages = ["/console/ridership/validators", "/console/ridership/history?pass_id=P0000000FF",
                 "/console/ridership/alerts?status=all", "/console/ridership/"]
        for path in pages:
            got = browsers[operators.ANALYST].get(path)
            assert got.status_code == 200, (path, got.status_code)
        assert "9007199254740991 ms (không phải ngày giờ)" in browsers[operators.CLERK].get(
            "/console/ridership/history?pass_id=P0000000FF").text
        assert "9007199254740991 ms (không phải ngày giờ)" in browsers[operators.ANALYST].get(
            "/console/ridership/validators").text
        for path in ["/api/ridership/validators", "/api/ridership/passes/P0000000FF/history",
                     "/api/ridership/alerts?status=all"]:
            for fmt in ("json", "csv"):
                got = app.test_client().get(f"{path}{'&' if '?' in path else '?'}format={fmt}",
                                            headers={"Authorization":
                                                     f"Bearer {tokens[operators.ANALYST]}"})
                assert got.status_code == 200, (path, fmt)


# Cells a spreadsheet program runs, or may, at the start of a cell: the ASCII ones, after
# spaces (ASCII, no-break, ideographic), a tab or a line break, and their full-width forms.
FORMULAS = ["=1+1", " =1+1", "\u00a0=1+1", "\u3000=1+1", "\t=1+1", "\r=1+1", "\n=1+1",
            "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(1)", "\ufe661", "+1", "-1", "@SUM(1)",
            " \u00a0\uff1dHYPERLINK(1)"]


class TestSpreadsheets:
    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_every_cell_that_may_start_a_formula_is_text(self, client, tokens, worker_factory,
                                                          stream):
        now_ms = int(clock.now() * 1000)
        m = TripMaker()
        stream.push(*[m.board(at_ms=now_ms - MIN, vehicle=f"V{n}", stop=text, pass_id=f"P{n:09d}")
                      for n, text in enumerate(FORMULAS)])
        stream.push(m.board(at_ms=now_ms - MIN, vehicle="29B-1", stop="S01 = S02",
                            pass_id="P000000099"))
        worker_factory().drain(clock.now())
        got = client.get("/api/ridership/stops?format=csv",
                         headers={"Authorization": f"Bearer {tokens[operators.ANALYST]}"})
        assert got.status_code == 200
        stops = {row["stop"] for row in csv.DictReader(io.StringIO(got.text.lstrip("\ufeff"), newline=""))}
        assert stops == {"'" + text for text in FORMULAS} | {"S01 = S02"}

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    @pytest.mark.parametrize("route", ['a"; x=.csv', "a\\b/c", "tuyến 32", "a\r\nX-Y: z"])
    def test_the_file_name_is_safe_whatever_the_route(self, client, tokens, route):
        got = client.get("/api/ridership/od", query_string={"route": route, "format": "csv",
                                                            "from": "2026-11-01",
                                                            "to": "2026-11-02"},
                         headers={"Authorization": f"Bearer {tokens[operators.ANALYST]}"})
        assert got.status_code == 200
        disposition = got.headers["Content-Disposition"]
        assert re.fullmatch(r'attachment; filename="od_2026-11-01_2026-11-02_[A-Za-z0-9._-]+'
                            r'\.csv"', disposition), disposition
