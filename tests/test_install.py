"""The wheel, installed the way an operator installs it: built from the sources, put in a
fresh virtual environment outside the checkout, and run from there. What it serves and runs
is the wheel's own files, with no repository beside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.testkit import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"
# What a clone holds after `npm ci`: no virtual environment, no build, no copied vendor files.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                        ".pytest_cache", "var", "demo-data", "results", "tests",
                                        "docs", "bench", "fuzz")

pytestmark = pytest.mark.artefact


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the sources (the checkout itself is left alone)."""
    tree = tmp_path_factory.mktemp("clone") / "vexe"
    shutil.copytree(ROOT, tree, ignore=NOT_IN_A_CLONE)
    for copied in (tree / "issuer" / "static" / "vendor").glob("*js"):
        copied.unlink()  # the build must take them from node_modules itself
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
          "-w", str(out), str(tree)])
    return next(out.glob("vexe-*.whl"))


def _venv(path: Path, requirement: str) -> Path:
    """A fresh virtual environment holding ``requirement`` and what it depends on (from the
    machine's package index and wheel cache); its bin directory."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    _run([sys.executable, "-m", "pip", "--python", str(path / "bin" / "python"), "install",
          "-q", "--no-compile", requirement])
    return path / "bin"


def _run(command: list[str], **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, **options)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


def _env(data_dir: Path, redis_url: str) -> dict[str, str]:
    """Only the settings: nothing that points back at the checkout or its environment."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "HOME") if name in os.environ}
    return {**keep, "VEXE_DATA_DIR": str(data_dir), "VEXE_REDIS_URL": redis_url}


@pytest.fixture(scope="module")
def issuer_venv(wheel, tmp_path_factory) -> Path:
    """A virtual environment with the wheel and its issuer extra: the tests only run its
    programs, each with a data directory of its own, so they share one (a pip install
    less)."""
    return _venv(tmp_path_factory.mktemp("issuer") / "venv", f"{wheel}[issuer]")


@pytest.fixture
def issuer(issuer_venv, tmp_path, redis_url):
    """The installed issuer under gunicorn with the shipped configuration, as the unit runs
    it, after `vexe init` and an analyst made with `vexe operator create`."""
    bin_dir = issuer_venv
    env = _env(tmp_path / "data", redis_url)
    where = _run([str(bin_dir / "python"), "-c", "import issuer; print(issuer.__file__)"],
                 env=env, cwd=tmp_path).stdout
    assert where.startswith(str(bin_dir.parent / "lib"))  # the wheel's, not the checkout's
    _run([str(bin_dir / "vexe"), "init"], env=env, cwd=tmp_path)
    password = tmp_path / "analyst-password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    _run([str(bin_dir / "vexe"), "operator", "create", "analyst", "--role", "analyst",
          "--password-file", str(password)], env=env, cwd=tmp_path)
    port = free_port()
    log = (tmp_path / "issuer.log").open("w")
    proc = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-c", "python:issuer.gunicorn_conf", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "issuer:create_app()"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/healthz") or proc.poll() is not None, timeout=60,
                 what="the installed issuer")
        assert proc.poll() is None, (tmp_path / "issuer.log").read_text()
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium (make /usr/bin/chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


class Watched:
    """A page whose errors are kept: console errors, uncaught exceptions, answers >= 400.
    One answer is right and not kept: no rider signs in here, so the card's questions to
    /api/me are answered 401."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        path = urlsplit(message.location.get("url", "")).path
        if message.type == "error" and not any(f"status of {status}" in message.text
                                               for status in EXPECTED.get(path, ())):
            self.errors.append(f"console: {message.text} ({message.location})")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in EXPECTED.get(
                urlsplit(response.url).path, ()):
            self.errors.append(f"{response.status} {response.url}")


EXPECTED = {"/api/me": (401,), "/api/me/passes": (401,)}


# The card's service worker, once it has finished installing: "activated", or "redundant"
# when its install failed (a file of the shell it could not fetch).
WORKER_INSTALLED = """async () => {
    for (let i = 0; i < 200; i++) {
        const registration = await navigator.serviceWorker.getRegistration("/card/");
        const worker = registration && (registration.installing || registration.waiting);
        if (registration && registration.active) return "activated";
        if (worker) return await new Promise((done) => worker.addEventListener("statechange",
            () => ["activated", "redundant"].includes(worker.state) && done(worker.state)));
        await new Promise((later) => setTimeout(later, 50));
    }
    return "never registered";
}"""


def test_the_installed_wheel_serves_the_card_offline_and_the_console_charts(issuer, browser):
    card = Watched(browser)
    with card.page.expect_response(lambda r: r.url.endswith("/qrcode-generator.mjs")) as got:
        card.page.goto(f"{issuer}/card/")
    assert got.value.status == 200
    assert "qrcode" in got.value.text()  # the encoder itself, from the wheel
    assert card.page.evaluate(WORKER_INSTALLED) == "activated", card.errors
    card.page.reload()
    card.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    card.context.set_offline(True)
    assert card.page.reload().from_service_worker  # the card opens with no network
    assert card.errors == [], "\n".join(card.errors)
    card.context.close()

    console = Watched(browser)
    page = console.page
    page.goto(f"{issuer}/console/login")
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{issuer}/console/ridership/")
    page.wait_for_selector(".panel[data-drawn=true]")  # charts.js drew with Chart.js
    assert page.evaluate("typeof Chart") == "function"
    assert console.errors == [], "\n".join(console.errors)
    console.context.close()


def test_a_bus_runs_the_validator_from_the_wheel_without_the_issuers_dependencies(wheel,
                                                                                 tmp_path):
    """The wheel alone (no extra) is the validator: `python -m validator` and `vexe validate`
    run, and none of the issuer's packages came with it."""
    bin_dir = _venv(tmp_path / "venv", str(wheel))
    env = _env(tmp_path / "data", "redis://127.0.0.1:1/0")  # no Redis: files only
    names = _run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "list",
                  "--format", "json"], cwd=tmp_path)
    packages = {p["name"].lower() for p in json.loads(names.stdout)}
    assert "vexe" in packages
    assert not packages & {"sqlalchemy", "alembic", "gunicorn", "authlib", "psycopg", "pillow",
                           "flask-limiter"}
    assert {"msgspec", "pynmeagps"} <= packages  # the trip's shape; the GPS's sentences

    usage = _run([str(bin_dir / "python"), "-m", "validator", "--help"], env=env, cwd=tmp_path)
    assert "run" in usage.stdout
    listed = _run([str(bin_dir / "vexe"), "--help"], env=env, cwd=tmp_path).stdout
    assert "validator" in listed and "validate" in listed and "serve" not in listed
    issuer = subprocess.run([str(bin_dir / "vexe"), "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert issuer.returncode == 1
    assert issuer.stderr.strip().endswith("needs the issuer's dependencies: "
                                          "pip install 'vexe[issuer]'")

    cases = json.loads((VECTORS / "cases.json").read_text())
    case = next(c for c in cases["cases"] if c["expected"]["decision"] == "accept")
    decided = _run([str(bin_dir / "vexe"), "validate", case["qr"], "--route", case["route"],
                    "--vehicle", case["vehicle"], "--at", str(case["now"]), "--trust",
                    str(VECTORS / "jwks.json"), "--denylist", str(VECTORS / "denylist.json")],
                   env=env, cwd=tmp_path)
    assert json.loads(decided.stdout)["reason"] == "ok"


def test_the_installed_wheel_runs_the_demo_on_the_feed_it_ships(issuer_venv, tmp_path,
                                                                 redis_url):
    """`vexe demo --once` from the wheel: the GTFS feed it imports is the wheel's own package
    data, and the bus finds its stop in it from a GPS fix."""
    bin_dir = issuer_venv
    env = _env(tmp_path / "data", redis_url)
    result = _run([str(bin_dir / "vexe"), "demo", "--once", "--data-dir",
                   str(tmp_path / "demo")], env=env, cwd=tmp_path)
    assert "network imported from demo-feed.zip (GTFS): 3 routes" in result.stdout
    assert "stop_by gps" in result.stdout
    assert result.stdout.count("(gps)") == 10  # each trip in Redis, at the GPS's stop
