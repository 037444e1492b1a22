"""The card's own pieces of the QR format, run in Chromium against the Python reference:
base45 (the one function written here rather than taken from npm), the body assembly, and
the QR drawn by the npm encoder in alphanumeric mode at the version the format budgets."""

import base64
import json
import random
from pathlib import Path

import base45
import pytest

from tests.card.conftest import decode_qr

STEPS = Path(__file__).resolve().parents[1] / "vectors" / "steps.json"


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def card_page(phones):
    phone = phones()
    phone.page.goto(phone.base + "/card/")
    phone.page.wait_for_selector("#notice")  # the script ran (and asks to sign in)
    return phone


def run_module(phone, module: str, body: str, arg):
    """Run ``body`` in the page, with the card's module as ``m`` and ``arg`` passed in."""
    return phone.page.evaluate(
        f"""async (arg) => {{ const m = await import("/card/static/js/{module}"); {body} }}""", arg)


def test_base45_matches_rfc9285(card_page):
    rng = random.Random(9285)
    cases = [b"", b"\x00", b"\xff", b"\xff\xff", b"AB", b"Hello!!", b"ietf!", b"\x00\x00\x00"]
    cases += [bytes(rng.randrange(256) for _ in range(n)) for n in range(1, 300, 7)]
    got = run_module(card_page, "qr_text.js",
                     "return arg.map((bytes) => m.base45(Uint8Array.from(bytes)));",
                     [list(c) for c in cases])
    assert got == [base45.b45encode(c).decode("ascii") for c in cases]
    # RFC 9285's own examples
    assert got[4] == "BB8" and got[5] == "%69 VD92EX0"


def test_body_and_qr_as_the_reference(card_page):
    """The golden vector's body, split as the issuer hands it out (Z || S1) plus T and S2,
    makes the golden vector's text; the proof message is the reference's."""
    steps = json.loads(STEPS.read_text())
    body = bytes.fromhex(steps["body_hex"])
    head, signature = body[:-68], body[-64:]
    got = run_module(card_page, "qr_text.js", """
        return {text: m.qrText(m.fromBase64url(arg.head), arg.t, m.fromBase64url(arg.sig)),
                proof: Array.from(m.proofMessage(arg.t, arg.jti))};""",
                     {"head": b64(head), "t": steps["t"], "sig": b64(signature), "jti": "qJ3aT0Bk"})
    assert got["text"] == steps["qr"]
    assert bytes(got["proof"]).hex() == steps["proof_message_hex"]


def test_drawn_qr_is_version_12_and_reads_back(card_page):
    text = json.loads(STEPS.read_text())["qr"]
    count = run_module(card_page, "draw_qr.js", """
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.id = "probe";
        svg.style.width = "360px";
        document.body.prepend(svg);
        return m.draw(svg, arg);""", text)
    assert count == 65  # version 12: the base45 text went in as alphanumeric
    png = card_page.page.locator("#probe").screenshot()
    assert decode_qr(png) == text


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
