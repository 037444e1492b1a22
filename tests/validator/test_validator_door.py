"""The validator's HTTP door against web pages: a page on another origin, open in the kiosk's
own Chromium, must not change the door, move the bus or journal a scan; a DNS name rebound to
127.0.0.1 must not read the validator; no page may frame the kiosk screen, and the screen
itself keeps working under its Content-Security-Policy.

Everything runs against a real ``python -m validator run`` and real headless Chromium.
"""

import http.client
import http.server
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from shared import clock
from test_validator_kiosk import CHROMIUM, Device, launch, wait_js
from tests.testkit import free_port

REBOUND = "rebind.test"  # a name the attacker owns, pointed at 127.0.0.1

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make /usr/bin/chromium)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = launch(playwright, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1")
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


@pytest.fixture
def device(tmp_path, issuer, redis_url):
    device = Device(tmp_path, issuer, redis_url, validator_id="D1")
    yield device
    device.stop()


@pytest.fixture
def attacker():
    """Another web server on 127.0.0.1 (another origin): serves whatever page it is given."""
    pages = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.pages = pages
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def status(device) -> dict:
    with urllib.request.urlopen(device.base + "/status", timeout=5) as response:
        return json.loads(response.read())


def untouched(device) -> None:
    """Still boarding, on route 32 at its stop, and nothing journaled."""
    now = status(device)
    assert (now["mode"], now["route"], now["stop"], now["backlog"]) == (
        "board", "32", "Cầu Giấy", 0)


# The attacker's page: every way a page can send a request to another origin.
ATTACK = """<!doctype html><meta charset="utf-8"><title>cheap tickets</title>
<body><script>
const V = "%(validator)s";
const QR = %(qr)s;
function form(path, name, value) {
  // enctype text/plain writes name=value: together they make a JSON body.
  return new Promise((done) => {
    const frame = document.createElement("iframe");
    frame.name = "sink" + path.slice(1);
    frame.onload = () => done("loaded");
    document.body.appendChild(frame);
    const f = document.createElement("form");
    f.method = "POST"; f.action = V + path; f.enctype = "text/plain"; f.target = frame.name;
    const input = document.createElement("input");
    input.name = name; input.value = value;
    f.appendChild(input); document.body.appendChild(f); f.submit();
    setTimeout(() => done("timeout"), 5000);
  });
}
async function tryFetch(path, options) {
  try { const r = await fetch(V + path, options); return "answered " + r.status; }
  catch (e) { return "blocked"; }
}
window.attack = async () => ({
  // Simple requests (no preflight): the page cannot read the answer, but on their own
  // they reach the validator.
  mode: await tryFetch("/mode", {method: "POST", mode: "no-cors", body: '{"mode":"alight"}'}),
  scan: await tryFetch("/scan", {method: "POST", mode: "no-cors", body: JSON.stringify({qr: QR})}),
  // With the door's header: the browser asks first (a CORS preflight).
  position: await tryFetch("/position", {method: "POST", body: '{"route":"99"}',
                                         headers: {"X-Vexe-Client": "page"}}),
  status: await tryFetch("/status", {}),
  formPosition: await form("/position", '{"route":"99","stop":"', '"}'),
  formScan: await form("/scan", '{"qr":' + JSON.stringify(QR) + ',"x":"', '"}'),
});
</script>
"""


def test_a_page_on_another_origin_changes_nothing(device, attacker, page, issuer):
    now = clock.now()
    attacker.pages["/"] = ATTACK % {"validator": device.base,
                                    "qr": json.dumps(issuer.rider(now=now).qr(now))}
    page.goto(attacker.base + "/")
    results = page.evaluate("attack()")
    assert results["position"] == "blocked" and results["status"] == "blocked"
    untouched(device)


def test_a_rebound_dns_name_cannot_read_or_change_the_validator(device, page):
    """DNS rebinding: the attacker's name served the page, then points at 127.0.0.1, so the
    page's requests are same-origin to the browser, and carry the attacker's name as Host.
    (Here the name points at 127.0.0.1 from the start, and the script runs in what the
    validator answered there.)"""
    page.goto(f"http://{REBOUND}:{device.port}/")
    answers = page.evaluate("""async () => {
      const read = async (path, options) => {
        const r = await fetch(path, options); return [r.status, await r.text()]; };
      return {status: await read("/status"), state: await read("/kiosk/state"),
              screen: await read("/kiosk/screen.js"),
              mode: await read("/mode", {method: "POST", body: '{"mode":"alight"}',
                                          headers: {"X-Vexe-Client": "page"}})};
    }""")
    for name, (code, text) in answers.items():
        assert code == 403, name
        assert "D1" not in text and "Cầu Giấy" not in text, name
    untouched(device)


class TestHostHeader:
    def request(self, device, host: str, path: str = "/status"):
        connection = http.client.HTTPConnection("127.0.0.1", device.port, timeout=5)
        try:
            connection.request("GET", path, headers={"Host": host})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    @pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1.nip.io",
                                      "localhost.evil.example:{port}", "[::1"])
    def test_a_foreign_host_reads_nothing(self, device, host):
        code, text = self.request(device, host.format(port=device.port))
        assert code == 403 and "not this validator" in json.loads(text)["error"]
        assert "D1" not in text

    @pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST",
                                      "[::1]:{port}"])
    def test_its_own_names_are_answered(self, device, host):
        code, text = self.request(device, host.format(port=device.port))
        assert code == 200 and json.loads(text)["validator"] == "D1"


class TestPrograms:
    """What a program on the box sends still works; what only a page would send does not."""

    def post(self, device, path, body, headers):
        request = urllib.request.Request(device.base + path, data=json.dumps(body).encode(),
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def test_a_post_without_the_header_is_refused(self, device):
        code, answer = self.post(device, "/mode", {"mode": "alight"}, {})
        assert code == 403 and "X-Vexe-Client" in answer["error"]
        untouched(device)

    @pytest.mark.parametrize("origin", ["http://127.0.0.1:1", "null", "http://evil.example"])
    def test_a_post_from_another_origin_is_refused_even_with_the_header(self, device, origin):
        code, answer = self.post(device, "/mode", {"mode": "alight"},
                                 {"X-Vexe-Client": "x", "Origin": origin})
        assert code == 403 and "origin" in answer["error"]
        untouched(device)

    def test_a_program_with_the_header_is_served(self, device, issuer):
        now = clock.now()
        code, answer = self.post(device, "/scan", {"qr": issuer.rider(now=now).qr(now)},
                                 {"X-Vexe-Client": "camera-reader"})
        assert code == 200 and answer["decision"] == "accept"
        code, answer = self.post(device, "/mode", {"mode": "alight"},
                                 {"X-Vexe-Client": "driver-panel",
                                  "Origin": device.base})  # its own origin may
        assert code == 200 and status(device)["mode"] == "alight"


HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


def test_every_answer_carries_a_strict_policy(device):
    for path in ("/", "/kiosk/screen.js", "/kiosk/state", "/status", "/nothing"):
        try:
            response = urllib.request.urlopen(device.base + path, timeout=5)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            headers = response.headers
        for name, value in HEADERS.items():
            assert headers[name] == value, (path, name)
        policy = dict(part.strip().split(" ", 1)
                      for part in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in headers["Content-Security-Policy"]


def test_no_page_can_frame_the_kiosk_screen(device, attacker, page):
    attacker.pages["/frame"] = f'<!doctype html><iframe src="{device.base}/"></iframe>'
    page.goto(attacker.base + "/frame")
    page.wait_for_timeout(1000)
    [frame] = page.main_frame.child_frames
    assert not frame.url.startswith(device.base)  # Chromium shows its error page instead


def test_the_kiosk_screen_works_under_its_policy(device, page, issuer):
    """The screen loads its script, style, stream and sounds with no policy violation."""
    page.add_init_script("""
      window.violations = [];
      document.addEventListener("securitypolicyviolation",
        (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));
    """)
    reports = []
    page.on("console", lambda message: "Content Security Policy" in message.text
            and reports.append(message.text))
    page.goto(device.base + "/")
    wait_js(page, "document.body.className === 'state-idle'")
    assert page.inner_text("#route") == "32"
    now = clock.now()
    assert device.post("/scan", {"qr": issuer.rider(now=now).qr(now)})["reason"] == "ok"
    wait_js(page, "document.body.className === 'state-accept'")
    wait_js(page, "document.body.dataset.lastSound === 'accept'", timeout=5)
    assert page.evaluate("getComputedStyle(document.body).fontFamily")  # the style sheet applied
    assert page.evaluate("window.violations") == [] and reports == []
