"""Custodial passes: the issuer holds the device key and makes the rotating QR itself, as
text, PNG or SVG; validators check it like any other."""

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from issuer.passes import phones, qr
from issuer_testkit import QR, verify_qr
from shared import clock, keys, ticket

DAY = 24 * 3600


def modules_of_png(data: bytes) -> list[list[bool]]:
    """Read a PNG back into QR modules (dark = True), sampling each module's centre."""
    image = Image.open(io.BytesIO(data)).convert("L")
    size = image.width // qr.BOX_SIZE
    assert image.width == image.height == size * qr.BOX_SIZE
    half = qr.BOX_SIZE // 2
    return [[image.getpixel((c * qr.BOX_SIZE + half, r * qr.BOX_SIZE + half)) < 128
             for c in range(size)] for r in range(size)]


@pytest.fixture
def custodial(api):
    """A rider's pass bound to a custodial key: (token, pass)."""
    token, p = api.rider_pass()
    out = api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token)
    assert out["custodial"] is True and set(out) == {"pass_id", "custodial", "device_key",
                                                      "expires"}
    return token, p


class TestHttp:
    def test_qr_text_verifies_like_any_pass(self, api, custodial):
        token, p = custodial
        before = int(clock.now())
        response = api.call("GET", f"/api/passes/{p['id']}/qr", token=token)
        assert response.status_code == 200
        assert response.content_type == "text/plain; charset=utf-8"
        assert "no-store" in response.headers["Cache-Control"]
        parsed, claims = verify_qr(response.text, api.jwks(), clock.now())
        assert claims.pid == p["id"] and claims.routes == ("*",)
        assert before <= parsed.proof_time <= clock.now()
        shown = api.ok("GET", f"/api/passes/{p['id']}", token=token)["device"]
        assert shown["custodial"] is True and shown["key"] == claims.device_key

    def test_the_qr_is_of_now_and_only_for_its_rider(self, api, custodial):
        token, p = custodial
        at = int(clock.now()) + 600
        rider = api.call("GET", f"/api/passes/{p['id']}/qr?at={at}", token=token)
        assert ticket.parse_qr(rider.text).proof_time <= clock.now()
        operator = api.call("GET", f"/api/passes/{p['id']}/qr")
        assert operator.status_code == 403 and "rider" in operator.get_json()["error"]

    def test_png_and_svg(self, api, custodial):
        token, p = custodial
        text = api.call("GET", f"/api/passes/{p['id']}/qr", token=token).text
        png = api.call("GET", f"/api/passes/{p['id']}/qr?format=png", token=token)
        assert png.content_type == "image/png" and png.data.startswith(b"\x89PNG\r\n\x1a\n")
        # Every proof signs anew, so the text differs from call to call; its length and so
        # its QR version do not.
        assert len(modules_of_png(png.data)) == len(qr.matrix(text))
        svg = api.call("GET", f"/api/passes/{p['id']}/qr?format=svg", token=token)
        assert svg.content_type == "image/svg+xml"
        root = ET.fromstring(svg.data)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.find("{http://www.w3.org/2000/svg}path") is not None

    def test_bad_format_is_400(self, api, custodial):
        token, p = custodial
        response = api.call("GET", f"/api/passes/{p['id']}/qr?format=gif", token=token)
        assert response.status_code == 400
        assert response.get_json()["error"] == "format must be one of text, png, svg"

    def test_phone_held_or_unbound_pass_has_no_issuer_qr(self, api):
        token, p = api.rider_pass()
        response = api.call("GET", f"/api/passes/{p['id']}/qr", token=token)
        assert response.status_code == 409 and "not bound" in response.get_json()["error"]
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
               json={"public_key": keys.device_public_compressed(keys.new_device_key())})
        response = api.call("GET", f"/api/passes/{p['id']}/qr", token=token)
        assert response.status_code == 409 and "held by a phone" in response.get_json()["error"]

    def test_going_custodial_retires_the_phone(self, api):
        token, p = api.rider_pass()
        phone = keys.device_public_compressed(keys.new_device_key())
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token, json={"public_key": phone})
        api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token)
        device = api.ok("GET", f"/api/passes/{p['id']}")["device"]
        assert device["custodial"] is True and device["key"] != phone


class TestCli:
    def test_qr_binds_custodially_and_writes_images(self, cli, tmp_path):
        account = cli.json("account", "create", "--name", "Phạm Thị Dung",
                           "--birth-date", "1948-08-19")
        p = cli.json("pass", "issue", account["id"], "--product", "free",
                     "--category", "elderly")
        at = int(clock.now())
        png, svg = tmp_path / "pass.png", tmp_path / "pass.svg"
        result = cli.ok(*QR, p["id"], "--at", at, "--png", png, "--svg", svg)
        text = result.stdout.strip()
        parsed, claims = verify_qr(text, cli.json("keys", "jwks"), at)
        assert parsed.proof_time == at
        assert (claims.product, claims.category, claims.routes) == ("F", "elderly", ("*",))
        assert modules_of_png(png.read_bytes()) == qr.matrix(text)
        assert svg.read_bytes() == qr.svg(text)
        assert cli.json("pass", "show", p["id"])["device"]["custodial"] is True

    def test_credential_is_reused_then_refreshed_within_a_day_of_expiry(self, cli):
        account = cli.json("account", "create", "--name", "Võ Minh Em", "--birth-date", "2001-01-01")
        year, month = clock.hanoi_month(clock.now())
        next_month = f"{year + month // 12}-{month % 12 + 1:02d}"  # a whole month ahead
        p = cli.json("pass", "issue", account["id"], "--product", "multi", "--month", next_month)
        t0 = int(clock.now())
        jwks = cli.json("keys", "jwks")

        def claims_at(at):
            text = cli.ok(*QR, p["id"], "--at", at).stdout.strip()
            parsed, claims = verify_qr(text, jwks, at)
            assert parsed.proof_time == at
            return claims

        first = claims_at(t0)
        later = claims_at(t0 + 3600)
        assert later.jti == first.jti
        refreshed = claims_at(first.exp - DAY + 60)
        assert refreshed.jti != first.jti and refreshed.exp > first.exp
        assert claims_at(first.exp - DAY + 120).jti == refreshed.jti
        ended = cli.fails(*QR, p["id"], "--at", p["valid_until"])
        assert "ended" in ended

    def test_phone_held_pass_is_a_clear_error(self, cli, app, session):
        account = cli.json("account", "create", "--name", "Đỗ Gia Huy", "--birth-date", "1995-03-04")
        p = cli.json("pass", "issue", account["id"], "--product", "multi")
        phones.bind_device(session, p["id"], keys.device_public_compressed(keys.new_device_key()),
                            now=clock.now(), sealing_key=app.config["SEALING_KEY"])
        session.commit()  # as the rider's request does
        assert "held by a phone" in cli.fails(*QR, p["id"])
        assert "no pass 'NOPE'" in cli.fails(*QR, "NOPE")

    def test_unwritable_image_path_is_one_line(self, cli, tmp_path):
        account = cli.json("account", "create", "--name", "Bùi Lan", "--birth-date", "1999-09-09")
        p = cli.json("pass", "issue", account["id"], "--product", "multi")
        line = cli.fails(*QR, p["id"], "--png", tmp_path / "missing" / "x.png")
        assert line.startswith("vexe: cannot write")
        assert cli.json("pass", "show", p["id"])["device"] is None


def test_png_modules_are_the_qr_of_the_text():
    text = "VX1:" + "ABC123$%*+-./: " * 20
    assert modules_of_png(qr.png(text)) == qr.matrix(text)
