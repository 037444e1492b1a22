"""Fixtures for the rider's card: the issuer's own fixtures, the issuer and the development
e-ID provider on real HTTP servers (tests/identity), and Debian's Chromium driven by
Playwright, with helpers that read the card's QR off a screenshot and ask the validator."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
import redis
import requests

from issuer import bootstrap
from issuer.platform import db, settings
from issuer.passes import publish
from issuer.sales import orders
from shared import clock, redis_keys
from shared.denylist import Denylist
from shared.keys import TrustList
from tests.identity.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    CLIENT_ID,
    CLIENT_SECRET,
    EidWorld,
    Served,
    eid_world,
    staff,
)
from tests.issuer.conftest import (  # noqa: F401
    api,
    app,
    client,
    config,
    device,
    session,
)

ROTATION = 2  # seconds: the card's rotation period in these tests (30 on a real issuer)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# A phone-sized screen: the card is laid out for it, and the QR is read off it.
PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "vi-VN",
         "timezone_id": "Asia/Ho_Chi_Minh"}
# The smaller phones the QR must be whole on, at the top of the page, with no scrolling.
SCREENS = [{"width": 390, "height": 844}, {"width": 360, "height": 800}]
ELDERLY = "vn-2b8e4d10"  # Trần Thị Bình, born 1955: her free pass is granted on request
ADULT = "vn-7f3a9c21"  # Nguyễn Văn An


@pytest.fixture
def initialised(config, schema_templates):
    """``vexe init`` done, with a short rotation period so a test sees several."""
    schema_templates.migrate(config["DATABASE_URL"])
    bootstrap.init(settings.load(config), now=clock.now())
    return {**config, "CARD_ROTATION": ROTATION}


@pytest.fixture(scope="module")
def chromium():
    """One browser a module (each phone is a context of its own); torn down with the module,
    so it never overlaps another module's Playwright."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


class Phone:
    """One phone: a browser context of its own (its own storage, so its own keys)."""

    def __init__(self, browser, base: str, **options):
        self.base = base
        self.context = browser.new_context(**{**PHONE, **options})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.tolerated: list[str] = []  # console errors expected of this phone's setting
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        # A refused fetch while offline is the browser's to log; anything else is a bug
        # (a CSP violation, an exception in the card's script).
        text = message.text
        if message.type == "error" and "net::ERR_INTERNET_DISCONNECTED" not in text \
                and "Failed to load resource" not in text \
                and not any(t in text for t in self.tolerated):
            self.errors.append(text)

    def sign_in(self, sub: str, path: str = "/card/") -> None:
        self.page.goto(self.base + path)
        if path == "/card/":  # the card offers sign-in; the account pages redirect to it
            self.page.click("#signin")
        self.page.click(f'button[data-sub="{sub}"]')  # the provider's citizen chooser
        self.page.wait_for_url(self.base + path)

    def state(self, kind: str, timeout: float = 15000) -> None:
        """Wait until the card shows ``kind`` (show, activate, revoked, ...)."""
        self.page.wait_for_selector(f'#card[data-state="{kind}"]', timeout=timeout)

    def activate(self) -> None:
        self.state("activate")
        self.page.click("#activate")
        self.state("show")
        self.wait_for_qr()

    def wait_for_qr(self) -> None:
        self.page.wait_for_selector("#qr path", state="attached")

    def screenshot(self, name: str | None = None) -> bytes:
        """The whole card as the phone shows it; kept under VEXE_SCREENSHOTS when set."""
        png = self.page.screenshot(full_page=True)
        folder = os.environ.get("VEXE_SCREENSHOTS")
        if name and folder:
            from PIL import Image

            Path(folder).mkdir(parents=True, exist_ok=True)
            # 128 colours look the same and weigh a third: these pictures live in git.
            picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
            picture.save(Path(folder) / f"card-{name}.png", optimize=True)
        return png

    def read_qr(self, name: str | None = None) -> str:
        return decode_qr(self.screenshot(name))

    def next_qr(self, after: str, timeout: float = 10.0) -> str:
        """The first QR on the screen that differs from ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.read_qr()
            if text != after:
                return text
            time.sleep(0.3)
        raise AssertionError("the QR did not change")

    def text(self) -> str:
        return self.page.inner_text("#card")

    def legibility(self) -> dict:
        """The smallest text size (CSS px) and the lowest WCAG contrast ratio of any text
        shown on the page, each with the element it belongs to."""
        return self.page.evaluate(LEGIBILITY)

    def close(self) -> None:
        self.context.close()


def qr_on_screen(phone, screen: dict, where: str) -> None:
    """The QR's box inside the viewport, with the page at its top; no sideways scroll."""
    page = phone.page
    page.set_viewport_size(screen)
    page.evaluate("window.scrollTo(0, 0)")
    phone.wait_for_qr()
    box = page.locator("#qr").bounding_box()
    assert box and box["width"] >= 200, (where, box)
    assert box["x"] >= 0 and box["y"] >= 0, (where, box)
    assert box["x"] + box["width"] <= screen["width"], (where, screen, box)
    assert box["y"] + box["height"] <= screen["height"], (where, screen, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= screen["width"], where


# WCAG 2 relative luminance and contrast, over every element that shows text of its own;
# the background is the first opaque one up the tree.
LEGIBILITY = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let smallest = {size: Infinity}, lowest = {ratio: Infinity};
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || !el.getClientRects().length || el.closest(".visually-hidden")) continue;
    const size = parseFloat(style.fontSize);
    const [a, b] = [lum(rgb(style.color)), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const what = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "");
    if (size < smallest.size) smallest = {size, what};
    if (ratio < lowest.ratio) lowest = {ratio, what};
  }
  return {smallest, lowest};
}"""


def decode_qr(png: bytes) -> str:
    """The one QR code in a screenshot, read by zxing-cpp as a validator's camera would."""
    import zxingcpp
    from PIL import Image

    found = [r for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
             if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1, f"{len(found)} QR codes on the screen"
    return found[0].text


class Bus:
    """A validator on a bus, deciding with what the issuer publishes to Redis."""

    def __init__(self, world_config: dict, route: str = "32", vehicle: str = "29B-100.01"):
        self.redis_url = world_config["REDIS_URL"]
        self.database_url = world_config["DATABASE_URL"]
        self.route, self.vehicle = route, vehicle

    def publish(self) -> None:
        """``vexe publish``: the trust list and the denylist as the issuer has them now."""
        with db.session(self.database_url) as session:
            assert publish.publish(session, self.redis_url, now=clock.now()).ok

    def check(self, text: str):
        from validator.check import check

        client = redis.Redis.from_url(self.redis_url)
        try:
            trust = TrustList.from_jwks(client.get(redis_keys.TRUST_LIST))
            raw = client.get(redis_keys.DENYLIST)
        finally:
            client.close()
        denylist = Denylist.loads(raw) if raw else Denylist.empty()
        return check(text, trust=trust, denylist=denylist, route=self.route,
                     vehicle=self.vehicle, now=clock.now())


@pytest.fixture
def bus(initialised):
    validator = Bus(initialised)
    validator.publish()
    return validator


@pytest.fixture
def phones(chromium, eid_world):
    """Phones on the card page of the issuer in ``eid_world``."""
    made: list[Phone] = []

    def new(**options) -> Phone:
        phone = Phone(chromium, eid_world.issuer.url, **options)
        made.append(phone)
        return phone

    yield new
    for phone in made:
        errors = phone.errors
        phone.close()
        assert not errors, errors


def operator_call(world: EidWorld, config: dict, method: str, path: str, **kwargs) -> dict:
    """The administrator (the bootstrap token ``vexe init`` wrote), over the real HTTP API."""
    token = settings.load(config)["OPERATOR_TOKEN"]
    response = requests.request(method, world.issuer.url + path, timeout=10,
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


def renewed_and_paid(database_url: str, account_id: str) -> str:
    """Next month's multi-route pass for ``account_id``, ordered and paid (at the counter):
    its id. Paying binds it to the phone that holds this month's (issuer.passes.next_month)."""
    with db.session(database_url) as session:
        now = clock.now()
        order = orders.create(session, account_id, "multi", orders.months_on_sale(now, 1)[1],
                              now=now, open_day=1)
        following = orders.pay(session, order.id, amount_vnd=order.price_vnd,
                               handled_by="test", now=now).pass_id
        session.commit()
    return following
