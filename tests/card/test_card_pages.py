"""What the issuer serves for the card: the page (no inline script, its own strict policy),
the service worker and every file it caches, the manifest, the QR encoder from npm, the
time, and the rotation period setting."""

import json
import re
import time
from pathlib import Path

import pytest

from issuer import create_app
from issuer.card import pages
from issuer.platform.errors import NotReady
from tests.card.conftest import ROTATION

ROOT = Path(__file__).resolve().parents[2]


class TestPage:
    def test_shell_has_no_inline_script_and_a_strict_policy(self, client):
        response = client.get("/card/")
        assert response.status_code == 200
        html = response.text
        assert f'data-rotation="{ROTATION}"' in html and 'data-freshness="45"' in html
        assert re.search(r'data-csrf="[^"]+"', html)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        # Code only from the card's own files; the one inline element is data (the card's
        # words), which the browser never runs.
        code = [(attrs, body) for attrs, body in scripts if 'type="application/json"' not in attrs]
        assert code and all('src="/card/static/' in attrs and not body.strip()
                            for attrs, body in code)
        data = [body for attrs, body in scripts if 'type="application/json"' in attrs]
        assert len(data) == 1 and set(json.loads(data[0])) == {"vi", "reasons"}
        assert " style=" not in html and "<style" not in html
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        assert "no-cache" in response.headers["Cache-Control"]

    def test_the_page_carries_the_vietnamese_of_every_message_of_the_card(self, client):
        html = client.get("/card/", headers={"Accept-Language": "en"}).text
        table = json.loads(re.search(r'<script type="application/json" id="strings">(.*?)</script>',
                                     html, re.S).group(1))["vi"]
        assert set(pages._msgids()) <= set(table)
        assert table["The pass's QR code. Hold it to the validator when you board."] == \
            "Mã QR của thẻ. Đưa mã vào máy soát vé khi lên xe."
        # In the language the issuer chose for this browser, as every page is.
        assert '<html lang="en">' in html and "<title>Bus pass</title>" in html
        assert 'href="/lang/vi?next=/card/"' in html
        vi = client.get("/card/").text
        assert '<html lang="vi">' in vi and "<title>Thẻ vé xe buýt</title>" in vi
        client.set_cookie("vexe_lang", "en")
        assert '<html lang="en">' in client.get("/card/").text

    def test_every_message_the_scripts_say_reaches_the_catalogues(self):
        """A call the extractor cannot see (inside a `template ${literal}`) would stay
        English on a Vietnamese card."""
        written = set()
        for path in pages.STATIC.rglob("*.js"):
            written |= set(re.findall(r'\bN?_\("((?:[^"\\]|\\.)*)"', path.read_text()))
        assert written and written <= set(pages._msgids()), written - set(pages._msgids())

    def test_the_hotline_setting_reaches_the_card(self, client, app):
        assert 'data-hotline=""' in client.get("/card/").text
        app.config["HOTLINE"] = "1900 1234"
        assert 'data-hotline="1900 1234"' in client.get("/card/").text

    def test_service_worker_caches_files_that_exist(self, client):
        response = client.get("/card/sw.js")
        assert response.status_code == 200
        assert response.content_type.startswith("text/javascript")
        shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", response.text).group(1))
        assert shell[0] == "/card/" and "/card/vendor/qrcode-generator.mjs" in shell
        assert "/card/static/js/main.js" in shell and "/card/static/card.css" in shell
        for url in shell:
            with client.get(url) as file:
                assert file.status_code == 200, url

    def test_manifest_makes_it_installable(self, client):
        manifest = client.get("/card/manifest.webmanifest")
        assert manifest.content_type == "application/manifest+json"
        data = manifest.get_json()
        assert data["start_url"] == data["scope"] == "/card/"
        assert data["display"] == "standalone" and data["lang"] == "vi"
        assert data["name"] == "Thẻ vé xe buýt Hà Nội"
        english = client.get("/card/manifest.webmanifest",
                             headers={"Accept-Language": "en"}).get_json()
        assert (english["lang"], english["name"]) == ("en", "Hanoi bus pass")
        assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
        for icon in data["icons"]:
            with client.get(icon["src"]) as image:
                assert image.content_type == "image/png"

    def test_encoder_comes_from_node_modules(self, client):
        installed = ROOT / "node_modules" / "qrcode-generator" / "dist" / "qrcode.mjs"
        with client.get("/card/vendor/qrcode-generator.mjs") as served:
            assert served.status_code == 200
            assert served.content_type.startswith("text/javascript")
            assert served.data == installed.read_bytes()
        package = json.loads((ROOT / "package.json").read_text())
        assert package["dependencies"]["qrcode-generator"] == "2.0.4"  # pinned exactly
        assert client.get("/card/vendor/other.js").status_code == 404

    def test_only_the_cards_files(self, client):
        for path in ("/card/static/../pages.py", "/card/static/%2e%2e/pages.py",
                     "/card/static/js/", "/card/static/nothing.js"):
            assert client.get(path).status_code == 404, path
        with client.get("/card/static/js/main.js") as first:
            etag = first.headers["ETag"]
        with client.get("/card/static/js/main.js", headers={"If-None-Match": etag}) as again:
            assert again.status_code == 304

    def test_time(self, client):
        response = client.get("/card/time")
        assert abs(response.get_json()["now"] - time.time()) < 5
        assert "no-store" in response.headers["Cache-Control"]

    def test_version_follows_the_files(self):
        version, urls = pages._assets()
        assert re.fullmatch(r"[0-9a-f]{16}", version) and len(urls) == len(set(urls))


class TestRotationSetting:
    def test_default_is_thirty_seconds(self, initialised):
        config = {k: v for k, v in initialised.items() if k != "CARD_ROTATION"}
        assert create_app(config).config["CARD_ROTATION"] == 30

    def test_from_the_environment(self, initialised, monkeypatch):
        monkeypatch.setenv("VEXE_CARD_ROTATION", "5")
        config = {k: v for k, v in initialised.items() if k != "CARD_ROTATION"}
        assert create_app(config).config["CARD_ROTATION"] == 5

    @pytest.mark.parametrize("value", [0, 31, 60, "soon", None])
    def test_refused_when_a_proof_could_outlive_the_window(self, initialised, value):
        with pytest.raises(NotReady, match="CARD_ROTATION must be seconds, 1 to 30"):
            create_app({**initialised, "CARD_ROTATION": value})
