"""The passenger screen in headless Chromium, against a running validator process.

Each state is checked for what a rider reads and hears, and saved as a screenshot for
people to look at: in a temporary directory, or where VEXE_SCREENSHOTS names, e.g.

    VEXE_SCREENSHOTS=docs .venv/bin/pytest tests/validator/test_validator_kiosk.py

which refreshes docs/validator-screen-*.png (a plain test run leaves the tree untouched).
"""

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

from shared import clock
from tests.a11y import assert_clean
from validator_testkit import publish_trust
from tests.testkit import wait_for

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1024, "height": 600}  # a 10" validator screen

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make /usr/bin/chromium)")


def launch(playwright, *args: str):
    """Debian's Chromium as the kiosk runs it (sound allowed without a gesture), and ``args``."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--autoplay-policy=no-user-gesture-required", *args])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


class Device:
    """A validator process with its HTTP port, started from a configuration file."""

    def __init__(self, tmp_path, issuer, redis_url, *, validator_id="K1", extra=""):
        from test_validator_run import free_port, validator_home
        validator_home(tmp_path, issuer, validator_id)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = tmp_path / f"{validator_id}.toml"
        config.write_text(textwrap.dedent(f"""
            [validator]
            id = "{validator_id}"
            vehicle = "29B-00042"
            company = "transerco"
            data_dir = "{tmp_path}"
            [position]
            route = "32"
            stop = "Cầu Giấy"
            [redis]
            url = "{redis_url}"
            [http]
            port = {self.port}
            [input]
            scanner = "none"
        """) + extra)
        self.log = open(tmp_path / f"{validator_id}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "validator", "run", "--config",
                                      str(config)], stdout=subprocess.DEVNULL, stderr=self.log)
        wait_for(lambda: _get(self.base + "/healthz"), timeout=20)

    def post(self, path, body):
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "X-Vexe-Client": "test"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


@pytest.fixture
def page(browser, tmp_path_factory):
    """The screen under its own Content-Security-Policy: nothing it loads may be refused."""
    page = browser.new_page(viewport=VIEWPORT)
    page.screenshots = Path(os.environ.get("VEXE_SCREENSHOTS")
                            or tmp_path_factory.mktemp("screenshots"))
    refused = []
    page.on("console", lambda m: refused.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    yield page
    page.close()
    assert not refused, refused


@pytest.fixture
def open_page(browser, tmp_path_factory):
    """A page that lets the test add axe (the screen's own policy would refuse it)."""
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    page = context.new_page()
    page.screenshots = Path(os.environ.get("VEXE_SCREENSHOTS")
                            or tmp_path_factory.mktemp("screenshots"))
    yield page
    context.close()


def shot(page, name):
    path = page.screenshots / f"validator-screen-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a picture, not a blank page


def body(page, attribute):
    return page.evaluate(f"document.body.dataset.{attribute} || null")


def wait_js(page, expression, timeout=10):
    """Until ``expression`` is true in the page. Not page.wait_for_function, which polls with
    eval(): the screen's Content-Security-Policy refuses it, as it should."""
    return wait_for(lambda: page.evaluate(expression), timeout=timeout, what=expression)


def wait_state(page, name):
    wait_js(page, f"document.body.className === 'state-{name}'")


def test_the_screen_through_a_day(tmp_path, issuer, redis_server, browser, open_page):
    page = open_page
    import redis
    client = redis.Redis.from_url(redis_server.url)
    publish_trust(client, issuer)
    device = Device(tmp_path, issuer, redis_server.url)
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        page.wait_for_selector("#status.online", timeout=15000)
        # One language, Vietnamese (the default setting), everywhere on the screen.
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.locator('[lang="en"]').count() == 0
        assert page.inner_text("#route") == "32" and page.inner_text("#route-label") == "Tuyến"
        assert page.inner_text("#stop") == "Điểm dừng Cầu Giấy"
        assert page.inner_text("#mode") == "LÊN XE"
        assert page.inner_text("#net") == "Đang có mạng"
        assert page.inner_text("#prompt") == "Mời quét mã QR trên ứng dụng"
        assert ":" in page.inner_text("#clock")
        assert_clean(page, "kiosk idle, vi", enhanced_contrast=True)
        shot(page, "idle")

        now = clock.now()
        products = {
            "single": issuer.rider(now=now, product="S", routes=("32",)),
            "multi": issuer.rider(now=now, product="M", routes=("*",)),
            "free": issuer.rider(now=now, product="F", routes=("*",), category="elderly"),
        }
        # The pass in the card's words for it.
        expected_product = {"single": "Vé tháng đơn tuyến · Tuyến 32",
                            "multi": "Vé tháng liên tuyến",
                            "free": "Thẻ miễn phí · Người cao tuổi"}
        for number, (name, rider) in enumerate(products.items(), start=1):
            now = clock.now()
            assert device.post("/scan", {"qr": rider.qr(now)})["decision"] == "accept"
            wait_js(page, f"document.body.dataset.scan === '{number}'")
            wait_state(page, "accept")
            assert page.inner_text("#message") == "Hợp lệ. Mời lên xe"
            assert page.inner_text("#product") == expected_product[name]
            assert (body(page, "lastSound"), body(page, "sounds")) == ("accept", str(number))
            if name == "free":
                assert_clean(page, "kiosk accept, vi", enhanced_contrast=True)
            shot(page, f"accept-{name}")

        # A refusal: the reason in words, the other sound.
        stale = issuer.rider(now=now).qr(clock.now() - 600)
        assert device.post("/scan", {"qr": stale})["reason"] == "stale_proof"
        wait_js(page, "document.body.dataset.scan === '4'")
        wait_state(page, "refuse")
        assert page.inner_text("#message") == "Mã QR đã cũ, hãy hiển thị mã mới"
        assert (body(page, "lastSound"), body(page, "sounds")) == ("refuse", "4")
        assert_clean(page, "kiosk refuse, vi", enhanced_contrast=True)
        shot(page, "refuse")
        wait_state(page, "idle")  # the panel goes by itself

        # The driver switches the validator to the rear door.
        device.post("/mode", {"mode": "alight"})
        wait_js(page, "document.body.dataset.mode === 'alight'")
        assert page.inner_text("#mode") == "XUỐNG XE"
        assert page.inner_text("#prompt") == "Mời quét mã QR khi xuống xe"
        shot(page, "alighting")
        now = clock.now()
        assert device.post("/scan", {"qr": issuer.rider(now=now).qr(now)})["reason"] == "ok"
        wait_js(page, "document.body.dataset.scan === '5'")
        wait_state(page, "accept")
        assert page.inner_text("#message") == "Hợp lệ. Hẹn gặp lại"
        device.post("/mode", {"mode": "board"})

        # Redis goes away: the screen says offline and counts the trips waiting.
        redis_server.stop()
        page.wait_for_selector("#status.offline", timeout=20000)
        waiting = json.loads(_get(device.base + "/status"))["backlog"] + 2
        for _ in range(2):
            now = clock.now()
            device.post("/scan", {"qr": issuer.rider(now=now).qr(now)})
        try:
            wait_js(page, "document.getElementById('net').textContent === "
                          f"'Không có mạng · {waiting} lượt chờ gửi'")
        except Exception:
            raise AssertionError(page.inner_text("#status")) from None
        wait_state(page, "idle")
        assert_clean(page, "kiosk offline, vi", enhanced_contrast=True)
        shot(page, "offline")

        # The validator itself stops: the page says it is not responding.
        device.stop()
        page.wait_for_selector("#lost:not([hidden])", timeout=15000)
        shot(page, "lost")
    finally:
        if device.proc.poll() is None:
            device.stop()
        client.close()


def test_the_screen_when_the_journal_is_full(tmp_path, issuer, open_page):
    page = open_page
    device = Device(tmp_path, issuer, "redis://127.0.0.1:1/0", validator_id="F1",
                    extra="[journal]\nmax_mb = 0.1\n")
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        for _ in range(500):
            now = clock.now()
            if device.post("/scan", {"qr": issuer.rider(now=now).qr(now)})["reason"] != "ok":
                break
        wait_state(page, "refuse")
        assert page.inner_text("#message") == "Máy soát vé hết bộ nhớ, tạm không nhận vé"
        wait_state(page, "storage")  # after the refusal, the screen stays out of service
        assert page.is_visible("#storage") and not page.is_visible("#panel")
        assert "Tạm ngừng nhận vé" in page.inner_text("#storage")
        assert "Bộ nhớ máy soát vé đã đầy" in page.inner_text("#storage-why")
        assert_clean(page, "kiosk storage full, vi", enhanced_contrast=True)
        shot(page, "storage-full")
    finally:
        device.stop()


def test_the_screen_when_the_journal_is_damaged(tmp_path, issuer, page):
    """The pass index's root page overwritten on disk while the validator runs: the screen
    says why it is not accepting tickets, not that the disk is full."""
    device = Device(tmp_path, issuer, "redis://127.0.0.1:1/0", validator_id="D1")
    journal = tmp_path / "validator-D1" / "journal.db"
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        db = sqlite3.connect(journal, isolation_level=None)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'scans_pass_at'"
                          ).fetchone()[0]
        with open(journal, "r+b") as file:
            file.seek((root - 1) * size)
            file.write(b"\xa5" * size)
        db.execute("INSERT INTO probe VALUES (x'00')")  # the validator reads pages afresh
        db.close()
        now = clock.now()
        assert device.post("/scan", {"qr": issuer.rider(now=now).qr(now)})["reason"] == \
            "journal_damaged"
        wait_state(page, "storage")
        assert page.inner_text("#storage-why") == "Dữ liệu máy soát vé bị hỏng, tạm không nhận vé"
        shot(page, "journal-damaged")
    finally:
        device.stop()


def test_the_screen_in_two_languages_when_the_city_wants_them(tmp_path, issuer, open_page):
    """``[kiosk] languages = ["vi", "en"]``: Vietnamese large, English below, each marked
    with its language; ``["en"]``: English alone."""
    page = open_page
    device = Device(tmp_path, issuer, "redis://127.0.0.1:1/0", validator_id="L2",
                    extra='[kiosk]\nlanguages = ["vi", "en"]\n')
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.inner_text('#prompt [lang="vi"]') == "Mời quét mã QR trên ứng dụng"
        assert page.inner_text('#prompt [lang="en"]') == "Please scan the QR code in the app"
        assert page.inner_text('#mode [lang="en"]') == "BOARDING".title()
        now = clock.now()
        rider = issuer.rider(now=now, product="F", routes=("*",), category="elderly")
        assert device.post("/scan", {"qr": rider.qr(now)})["decision"] == "accept"
        wait_state(page, "accept")
        assert page.inner_text('#message [lang="vi"]') == "Hợp lệ. Mời lên xe"
        assert page.inner_text('#message [lang="en"]') == "Valid. Welcome aboard"
        assert page.inner_text('#product [lang="en"]') == "Free pass · Elderly people"
        assert_clean(page, "kiosk accept, vi+en", enhanced_contrast=True)
        shot(page, "accept-two-languages")
        wait_state(page, "idle")
        assert_clean(page, "kiosk idle, vi+en", enhanced_contrast=True)
    finally:
        device.stop()
    device = Device(tmp_path, issuer, "redis://127.0.0.1:1/0", validator_id="L3",
                    extra='[kiosk]\nlanguages = ["en"]\n')
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator('[lang="vi"]').count() == 0
        assert page.inner_text("#prompt") == "Please scan the QR code in the app"
        assert page.inner_text("#route-label") == "Route"
        now = clock.now()
        stale = issuer.rider(now=now).qr(now - 600)
        assert device.post("/scan", {"qr": stale})["reason"] == "stale_proof"
        wait_state(page, "refuse")
        assert page.inner_text("#message") == "QR code is old, show a fresh one"
        assert_clean(page, "kiosk refuse, en", enhanced_contrast=True)
    finally:
        device.stop()


def test_the_page_needs_nothing_from_outside(tmp_path, issuer, page):
    """Every request the page makes goes to the validator itself."""
    device = Device(tmp_path, issuer, "redis://127.0.0.1:1/0", validator_id="N1")
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(device.base + "/")
        wait_state(page, "idle")
        page.wait_for_timeout(500)
    finally:
        device.stop()
    assert requested and all(url.startswith(device.base + "/") for url in requested)
    assert {url[len(device.base):] for url in requested} >= {
        "/", "/kiosk/screen.css", "/kiosk/screen.js", "/kiosk/events"}


@pytest.mark.parametrize("name, tones", [("accept", [1318.5, 1760.0]), ("refuse", [330.0])])
def test_the_two_sounds_are_told_apart_by_ear(name, tones):
    """Accept: two rising high beeps; refuse: three low buzzes, longer."""
    from validator.sounds import wav
    with wave.open(io.BytesIO(wav(name))) as file:
        rate = file.getframerate()
        samples = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2").astype(float)
    sound_seconds = len(samples) / rate  # the length of the sound itself, not a clock
    # Bursts of sound separated by silence, in 10 ms windows.
    window = rate // 100
    levels = np.abs(samples[:len(samples) // window * window]).reshape(-1, window).max(axis=1)
    loud = levels > 3000
    bursts = np.count_nonzero(np.diff(loud.astype(int)) == 1) + int(loud[0])
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    peaks = sorted(freqs[np.argsort(spectrum)[-3:]])
    if name == "accept":
        assert sound_seconds < 0.35 and bursts == 2
    else:
        assert sound_seconds > 0.55 and bursts == 3
    for tone in tones:
        assert any(abs(peak - tone) < 15 for peak in peaks), (name, peaks)


def test_fare_categories_are_named_as_the_issuer_names_them():
    """The issuer seeds its categories in a migration; the screen names them the same."""
    import ast
    from validator.screen import CATEGORY_NAMES
    versions = Path(__file__).resolve().parents[2] / "issuer/platform/migrations/versions"
    seeded = {}
    for path in versions.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == "CATEGORIES" for t in node.targets):
                seeded.update({c["code"]: (c["name_vi"], c["name_en"])
                               for c in ast.literal_eval(node.value)})
    assert seeded and CATEGORY_NAMES == seeded


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None
