"""Every page a person uses, in a real Chromium, in both languages: the rider's pages at two
phone sizes, the console's at a desk's. Each page answers 200 (the error page its own status),
axe finds nothing at WCAG 2.2 AA, nothing scrolls sideways, ``<html lang>`` is the language,
and a Vietnamese page shows none of its own strings in English.

One issuer (with the development e-ID beside it) on real HTTP and one browser serve the whole
module; what the pages show is made first: a rider with a paid monthly pass, another with an
order waiting for payment and an application for a free pass, and an operator of each role.

Each page is saved as a PNG in the folder ``VEXE_SCREENSHOTS`` names (a temporary one if
unset): ``VEXE_SCREENSHOTS=docs/pages pytest -n0 tests/test_every_page.py -m docs_shot`` writes
the few that docs/ and the README show."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import redis
import requests

from issuer import bootstrap
from issuer.identity import operators
from issuer.platform import db, settings
from shared import clock, i18n, redis_functions
from tests import a11y
from tests.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT
from tests.identity.conftest import PASSWORD, served_eid_world

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")

AN, BINH = "vn-7f3a9c21", "vn-c41d7e88"  # citizens of the development e-ID
BANK = {"BANK_BIN": "970436", "BANK_ACCOUNT": "0011001234567",
        "BANK_ACCOUNT_NAME": "Trung tâm Quản lý và Điều hành Giao thông"}
STAFF = {"clerk": "thu-ngan", "approver": "duyet", "analyst": "phan-tich",
         "administrator": "quan-tri"}

PHONES = [(360, 800), (390, 844)]
DESK = [(1366, 900)]

# name, path (filled from what was made), who opens it, sizes, status
RIDER_PAGES = [
    ("start", "/", "nobody"),
    ("home", "/my/", "an"),
    ("buy", "/my/buy", "an"),
    ("free", "/my/free", "an"),
    ("order", "/my/orders/{paid_order}", "an"),
    ("order-pending", "/my/orders/{pending_order}", "binh"),
    ("receipt", "/my/orders/{paid_order}/receipt", "an"),
    ("trips", "/my/trips", "an"),
    ("card", "/card/", "an"),
    ("shared-payment", "{share_path}", "nobody"),
    ("not-found", "/my/orders/NO-SUCH-ORDER", "an", 404),
]
STAFF_PAGES = [
    ("console-login", "/console/login", "nobody"),
    ("console-home", "/console/", "clerk"),
    ("counter", "/console/counter/", "clerk"),
    ("counter-order", "/console/counter/{paid_order}", "clerk"),
    ("counter-pending", "/console/counter/{pending_order}", "clerk"),
    ("counter-receipt", "/console/counter/{paid_order}/receipt", "clerk"),
    ("counter-pass", "/console/counter/passes/{pass_id}", "clerk"),
    ("held-payments", "/console/payments/", "clerk"),
    ("reconcile", "/console/payments/reconcile", "clerk"),
    ("help-queue", "/console/help/", "clerk"),
    ("approvals", "/console/approvals/", "approver"),
    ("held-accounts", "/console/approvals/held", "approver"),
    ("ridership", "/console/ridership/", "analyst"),
    ("ridership-od", "/console/ridership/od", "analyst"),
    ("ridership-map", "/console/ridership/map", "analyst"),
    ("ridership-settlement", "/console/ridership/settlement", "analyst"),
    ("ridership-validators", "/console/ridership/validators", "analyst"),
    ("ridership-alerts", "/console/ridership/alerts", "analyst"),
    ("ridership-history", "/console/ridership/history", "analyst"),
    ("admin-passes", "/console/admin/passes/", "administrator"),
    ("admin-pass", "/console/admin/passes/{pass_id}", "administrator"),
    ("admin-keys", "/console/admin/keys/", "administrator"),
    ("admin-keys-rotate", "/console/admin/keys/rotate", "administrator"),
    ("admin-audit", "/console/admin/audit/", "administrator"),
    ("admin-operators", "/console/admin/operators/", "administrator"),
    ("admin-operator", "/console/admin/operators/thu-ngan", "administrator"),
    ("admin-network", "/console/admin/network/", "administrator"),
    ("admin-catalogue", "/console/admin/catalogue/", "administrator"),
]

# Read at the bus door, in any light: these promise 7:1 (WCAG AAA) contrast.
ENHANCED = {"card"}
# The few docs/pages shows: (name, width, language).
SHOTS = {*((name, 390, lang) for name in ("home", "buy", "order-pending")
           for lang in ("vi", "en")),
         *((name, 1366, "vi") for name in ("counter", "approvals", "ridership-alerts",
                                           "admin-passes", "admin-keys", "admin-audit"))}
# Rider pages are long: their screenshots are the whole page; the console's, the screen.
FULL_PAGE = {name for name, *_ in RIDER_PAGES}


def _cases():
    for pages, sizes in ((RIDER_PAGES, PHONES), (STAFF_PAGES, DESK)):
        for name, path, who, *status in pages:
            for width, height in sizes:
                for lang in i18n.LANGUAGES:
                    marks = [pytest.mark.docs_shot] if (name, width, lang) in SHOTS else []
                    yield pytest.param(name, path, who, (width, height), lang,
                                       status[0] if status else 200,
                                       id=f"{name}-{width}-{lang}", marks=marks)


def _english_strings() -> set[str]:
    """Short msgids of the catalogues whose Vietnamese differs: seen whole on a Vietnamese
    page, one of them is a string left in English."""
    found = set()
    for path in i18n.files("vi"):
        for message in i18n.read(path):
            msgid = message.id[0] if isinstance(message.id, tuple) else message.id
            string = message.string[0] if isinstance(message.string, tuple) else message.string
            if msgid and string and string != msgid and "%(" not in msgid and len(msgid) < 60:
                found.add(msgid)
    return found


ENGLISH = _english_strings()
# The page's own words: headings, labels, buttons, links, table heads, the navigation.
WORDS = """() => Array.from(document.querySelectorAll(
    'h1, h2, h3, label, button, a, th, legend, nav *, summary, option'))
  .map(e => (e.innerText || '').trim()).filter(t => t)"""


@pytest.fixture(scope="module")
def shots_dir():
    folder = Path(os.environ.get("VEXE_SCREENSHOTS") or tempfile.mkdtemp(prefix="vexe-pages-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, browser):
    """The issuer and the e-ID on real HTTP, what the pages show made, and a signed-in
    browser context for each person."""
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    redis_functions.load(store)
    folder = tmp_path_factory.mktemp("every-page")
    config = {"DATA_DIR": str(folder / "data"), "DATABASE_URL": f"sqlite:///{folder / 'vexe.db'}",
              "REDIS_URL": redis_url, **BANK}
    bootstrap.init(settings.load(config), now=clock.now())
    try:
        with served_eid_world(config) as eid:
            yield World(eid.issuer.url, config, browser)
    finally:
        db.dispose()
        store.flushdb()
        store.close()


class World:
    def __init__(self, base: str, config: dict, browser):
        self.base = base
        self.browser = browser
        with db.session(config["DATABASE_URL"]) as session:
            for role, username in STAFF.items():
                operators.create(session, username, [role], now=clock.now(), password=PASSWORD)
            session.commit()
            clerk_token = operators.issue_token(session, STAFF["clerk"], "clerk",
                                                now=clock.now())[1]
            session.commit()
        # bypass_csp: axe goes into each page as the test's own inline script, which the
        # pages' policy refuses.
        self.contexts = {"nobody": browser.new_context(bypass_csp=True)}
        for sub, who in ((AN, "an"), (BINH, "binh")):
            self.contexts[who] = self._rider(sub)
        for role, username in STAFF.items():
            self.contexts[role] = self._operator(username)
        self.ids = {}
        # An buys a monthly pass and the clerk takes the cash; Bình orders one and leaves it
        # to pay, and asks for a free pass.
        self.ids["paid_order"] = self._buy("an")
        paid = requests.post(f"{base}/api/orders/{self.ids['paid_order']}/pay", timeout=30,
                             json={"amount_vnd": 200000},
                             headers={"Authorization": f"Bearer {clerk_token}"})
        assert paid.status_code == 200, paid.text
        self.ids["pass_id"] = paid.json()["pass_id"]
        self.ids["pending_order"] = self._buy("binh")
        page = self.contexts["binh"].new_page()
        page.goto(f"{base}/my/orders/{self.ids['pending_order']}")
        self.ids["share_path"] = re.sub(r"^https?://[^/]+", "",
                                        page.get_attribute("#share-link", "href"))
        page.goto(f"{base}/my/free")
        page.select_option("#category", "student")
        page.fill("#evidence_note", "Thẻ sinh viên ĐHBK 20231234")
        page.click("#apply button[type=submit]")
        page.wait_for_url(f"{base}/my/")
        page.close()
        page = self.contexts["an"].new_page()  # a question for the help desk's queue
        page.goto(f"{base}/my/trips")
        page.fill("#message", "Máy soát vé trên xe 32 không đọc được mã của tôi.")
        page.click("#ask button[type=submit]")
        page.wait_for_load_state()
        page.close()

    def _rider(self, sub: str):
        context = self.browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.goto(self.base + "/signin")
        page.click(f'button[data-sub="{sub}"]')
        page.wait_for_url(self.base + "/my/")
        page.close()
        return context

    def _operator(self, username: str):
        context = self.browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.goto(self.base + "/console/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/(?!login).*"))
        page.close()
        return context

    def _buy(self, who: str) -> str:
        page = self.contexts[who].new_page()
        page.goto(self.base + "/my/buy")
        page.select_option("#product", "multi")
        page.click("#buy button[type=submit]")
        page.wait_for_url(re.compile(r".*/my/orders/[0-9A-Z]{10}$"))
        order_id = page.url.rsplit("/", 1)[1]
        page.close()
        return order_id


@pytest.mark.parametrize("name, path, who, size, lang, status", list(_cases()))
def test_page(world, shots_dir, name, path, who, size, lang, status):
    context = world.contexts[who]
    context.add_cookies([{"name": "vexe_lang", "value": lang, "url": world.base}])
    width, height = size
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    try:
        response = page.goto(world.base + path.format(**world.ids))
        assert response.status == status, (response.status, page.url)
        assert page.get_attribute("html", "lang") == lang
        a11y.assert_clean(page, f"{name} at {width}px in {lang}",
                          enhanced_contrast=name in ENHANCED)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} is {wide}px wide at {width}px in {lang}"
        if lang == "vi":
            left = sorted({t for t in page.evaluate(WORDS) if t in ENGLISH})
            assert not left, f"English on the Vietnamese {name}: {left}"
        page.screenshot(path=str(shots_dir / f"{name}-{width}-{lang}.png"),
                        full_page=name in FULL_PAGE)
    finally:
        page.close()
