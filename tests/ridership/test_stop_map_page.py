"""The map of stops and the named ridership pages in headless Chromium (Debian's), on a
network imported from a GTFS feed: on a laptop's screen and a phone's."""

from __future__ import annotations

import os

import pytest

from network_testkit import seed
from ridership_testkit import TripMaker
from shared import clock
from test_console_pages import CHROMIUM, browser, server, sign_in, staff  # noqa: F401
from tests.issuer.conftest import api, app, cli, client, config, initialised, session  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (make /usr/bin/chromium)"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

MAP = "#map svg[role=img]"  # the map itself, not the legend's circles
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def seeded(cli, stream, worker_factory, tmp_path):
    return seed(cli, stream, worker_factory, tmp_path)


def fits(page) -> bool:
    """Nothing wider than the window: no sideways scrolling of the page."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_map_draws_places_by_boardings_and_the_routes_paths(sign_in, server, seeded,
                                                                 tmp_path, size):
    page = sign_in("analyst")
    page.set_viewport_size(size)
    page.goto(f"{server}/console/ridership/map")
    svg = page.locator(MAP)
    assert svg.is_visible()
    places = page.locator(f"{MAP} circle.place")
    assert sorted(places.evaluate_all("cs => cs.map(c => c.dataset.stop)")) == [
        "S1_0", "S2_0", "S4_0"]
    radius = {c["stop"]: float(c["r"]) for c in places.evaluate_all(
        "cs => cs.map(c => ({stop: c.dataset.stop, r: c.getAttribute('r')}))")}
    assert radius["S1_0"] == radius["S2_0"] > radius["S4_0"]  # 2 boardings against 1
    assert page.locator(f"{MAP} circle.dot").evaluate_all(
        "cs => cs.map(c => c.dataset.stop)") == ["S3_0"]  # no riders there today
    # Route 32's two paths; 31 has none.
    assert page.locator(f"{MAP} polyline").count() == 2
    title = page.locator(f"{MAP} circle.place[data-stop=S2_0] title").text_content()
    assert title.startswith("Điểm dừng S2: 2 lượt lên")
    # The legend's largest circle is drawn as large as the busiest place, on any screen.
    busiest = page.locator(f"{MAP} circle.place[data-stop=S1_0]").bounding_box()["width"]
    legend = page.locator("#map .legend svg.size circle").first.bounding_box()["width"]
    assert abs(busiest - legend) < 1.5, (busiest, legend)
    box = svg.bounding_box()
    assert box["width"] > 0.8 * min(size["width"], 1100) and box["x"] >= 0
    assert box["x"] + box["width"] <= size["width"]
    assert fits(page)
    # The same figures as a table, for a screen reader and for the places not on the map.
    rows = page.locator("#places tbody tr")
    assert rows.count() == 4
    typed = page.locator("#places tbody tr[data-stop='Cầu Giấy']")
    assert "không có trên bản đồ" in typed.inner_text() and "\t1\t" in typed.inner_text()
    assert "31, 32" in page.locator("#places tbody tr[data-stop=S2_0]").inner_text()
    page.screenshot(path=str(tmp_path / f"map-{size['width']}.png"), full_page=True)


def test_one_route_and_a_period_with_no_riders(sign_in, server, seeded):
    page = sign_in("administrator")
    page.goto(f"{server}/console/ridership/map?route=31")
    assert "Bách Khoa - Chèm" in page.locator("#map h2").inner_text()
    assert page.locator(f"{MAP} circle.place").evaluate_all(
        "cs => cs.map(c => c.dataset.stop)") == ["S2_0"]
    assert page.locator(f"{MAP} polyline").count() == 0
    page.goto(f"{server}/console/ridership/map?from=2026-01-01&to=2026-01-02")
    assert page.locator(f"{MAP} circle.place").count() == 0
    assert page.locator(f"{MAP} circle.dot").count() == 4  # the network, no riders
    assert "Chưa có lượt đi nào" in page.locator("#places").inner_text()


def test_a_bad_period_is_said_and_today_shown(sign_in, server, seeded):
    page = sign_in("analyst")
    page.goto(f"{server}/console/ridership/map?from=2026-02-10&to=2026-02-01")
    assert "ends before it starts" in page.locator(".flash.error").inner_text()
    assert page.locator(f"{MAP} circle.place").count() == 3


def test_the_map_is_for_analysts_and_administrators(sign_in, server, seeded):
    for role in ("clerk", "approver"):
        page = sign_in(role)
        assert page.goto(f"{server}/console/ridership/map").status == 403


def test_named_stops_on_the_dashboard_od_and_history(sign_in, server, seeded):
    page = sign_in("analyst")
    page.goto(f"{server}/console/ridership/")
    page.wait_for_selector("#stops[data-drawn=true]")
    labels = page.evaluate("document.querySelector('#stops canvas').chart.data.labels")
    assert labels[:2] == ["Điểm dừng S1", "Điểm dừng S2"]
    page.locator("#routes summary").click()
    assert "Giáp Bát - Nhổn" in page.locator("#routes tbody tr").first.inner_text()
    page.goto(f"{server}/console/ridership/od?route=32")
    assert "Giáp Bát - Nhổn" in page.locator("#od h2").inner_text()
    heads = page.locator("table.heat thead th").all_inner_texts()
    assert heads[1:] == ["Điểm dừng S1", "Điểm dừng S4", "(open)"]
    row = page.locator("table.heat tbody tr", has_text="Điểm dừng S4")
    assert row.locator("td").all_inner_texts() == ["1", "", ""]
    page.goto(f"{server}/console/ridership/history?pass_id=P000000001")
    cells = page.locator("#history tbody tr").first.inner_text()
    assert "Điểm dừng S1" in cells and "Giáp Bát - Nhổn" in cells


def test_a_stop_text_from_a_bus_is_text_on_the_map_page(sign_in, server, seeded, stream,
                                                        worker_factory):
    """A bus names its stop itself: markup in it is shown, never run."""
    hostile = '<img src=x onerror="document.title=1">"'
    stream.push(TripMaker().board(at_ms=seeded["t0"] + 10 * 60_000, stop=hostile[:32],
                                  pass_id="P000000042"))
    worker_factory().drain(clock.now())
    page = sign_in("analyst")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/console/ridership/map")
    assert page.locator("#places tbody img").count() == 0 and not dialogs
    assert hostile[:32] in page.locator("#places").inner_text()
    assert page.title().startswith("Bản đồ điểm dừng")
