"""Huge and hostile inputs at every door: refused before anything large is parsed, with a clear
4xx or a journaled refusal, never a crash, a 500 or memory that grows with the input.

Doors: the validator's POST /scan (and /position, /mode), its scanner on standard input and
on a serial port, and the issuer's JSON API.
"""

from __future__ import annotations

import io
import subprocess
import threading
from pathlib import Path

import pytest

from shared import clock, ticket
from validator.device import Validator
from validator.http import CLIENT_HEADER, MAX_BODY, create_app
from validator.service import MAX_LINE, _lines
from hardening_testkit import VEXE, environment
from tests.testkit import ROUTE, Issuer

NESTED = "[" * 50_000  # deeper than any JSON parser's recursion


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def device(tmp_path):
    validator = Validator(validator_id="IN1", vehicle="29B-111.11", route=ROUTE,
                          data_dir=tmp_path / "validator")
    yield validator
    validator.close()


def _client(device):
    """A test client sending the header every program on the box sends (validator.http)."""
    client = create_app(device).test_client()
    client.environ_base["HTTP_" + CLIENT_HEADER.upper().replace("-", "_")] = "test"
    return client


class TestValidatorHttp:
    @pytest.mark.parametrize("path", ["/scan", "/position", "/mode"])
    def test_json_nested_past_the_parsers_depth_is_400(self, device, path):
        client = _client(device)
        response = client.post(path, data=NESTED[:MAX_BODY - 1],
                               content_type="application/json")
        assert response.status_code == 400 and "error" in response.get_json()
        assert len(device.journal) == 0

    def test_a_body_over_the_cap_is_413_unread(self, device):
        client = _client(device)
        response = client.post("/scan", data=b'{"qr": "' + b"A" * (10 * MAX_BODY) + b'"}',
                               content_type="application/json")
        assert response.status_code == 413 and "error" in response.get_json()
        assert len(device.journal) == 0

    def test_a_qr_text_past_the_format_limit_is_a_journaled_refusal(self, device):
        """Within the body cap but past MAX_QR_TEXT: refused before base45 decoding."""
        client = _client(device)
        text = ticket.PREFIX + "0" * (MAX_BODY - 100)
        answer = client.post("/scan", json={"qr": text}).get_json()
        assert answer["reason"] == "malformed" and answer["trip_id"]
        [trip] = device.journal.trips()
        assert trip.reason == "malformed" and trip.pass_id is None


class TestScanner:
    def test_serial_lines_are_cut_and_the_rest_skipped(self):
        issuer = Issuer()
        now = clock.now()
        good = issuer.rider(now=now).qr(now).encode()
        data = b"X" * (5 * 1024 * 1024) + b"\n" + good + b"\n" + b"Y" * 9000 + b"\n" + good
        lines = list(_lines(io.BytesIO(data)))
        assert [len(line) for line in lines] == [MAX_LINE + 2, len(good) + 1, MAX_LINE + 2,
                                                 len(good)]
        assert lines[1] == good + b"\n" and lines[3] == good

    def test_a_huge_line_on_standard_input_is_one_refusal_in_bounded_memory(self, tmp_path):
        """64 MB without a line ending, then a real QR: one malformed refusal, one
        acceptance; the process never holds the long line (its peak memory stays put)."""
        issuer = Issuer()
        home = tmp_path / "validator-STDIN1"
        home.mkdir()
        (home / "trust.json").write_text(issuer.trust.dumps())
        proc = subprocess.Popen(
            [VEXE, "validator", "run", "--id", "STDIN1", "--vehicle", "29B-1", "--route", ROUTE,
             "--http-port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL="redis://127.0.0.1:1/0"))
        now = clock.now()
        proc.stdin.write(b"warm-up\n")
        proc.stdin.flush()
        proc.stdout.readline()
        before = _peak_kb(proc.pid)
        chunk = b"Z" * (1024 * 1024)

        def feed():
            for _ in range(64):
                proc.stdin.write(chunk)
            proc.stdin.write(b"\n" + issuer.rider(now=now).qr(clock.now()).encode() + b"\n")
            proc.stdin.close()

        writer = threading.Thread(target=feed)
        writer.start()
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        peak = _peak_kb(proc.pid)
        writer.join(60)
        proc.stdout.close()
        assert proc.wait(60) == 0
        assert [b'"reason":"malformed"' in lines[0], b'"reason":"ok"' in lines[1]] == [True, True]
        assert peak - before < 16 * 1024, (before, peak)  # KB: far below the 64 MB sent


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


class TestIssuerApi:
    @pytest.mark.parametrize("method, path", [
        ("POST", "/api/routes"), ("POST", "/api/accounts"), ("POST", "/api/passes"),
        ("POST", "/api/passes/NOPASS/revoke")])
    def test_nested_json_is_400_not_500(self, api, method, path):
        response = api.call(method, path, data=NESTED, content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["error"] == "request body is not valid JSON"

    def test_a_body_over_the_cap_is_413_in_json(self, api):
        response = api.call("POST", "/api/routes", data=b"{" + b" " * (128 * 1024) + b"}",
                            content_type="application/json")
        assert response.status_code == 413 and "error" in response.get_json()

    def test_a_rider_binding_a_huge_key_gets_400(self, api):
        token, issued = api.rider_pass("multi")
        response = api.call("POST", f"/api/passes/{issued['id']}/device", token=token,
                            json={"public_key": "A" * 50_000})
        assert response.status_code == 400 and "error" in response.get_json()
