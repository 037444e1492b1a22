"""``vexe validator run`` as a process: the scanner on standard input, HTTP, signals, crashes."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared import clock
from validator.cli import read_scanner
from validator.journal import Journal
from vexe.cli import main
from validator_testkit import publish_trust
from tests.testkit import ROUTE, free_port, stream_trips, wait_for

VEXE = Path(sys.executable).parent / "vexe"


def validator_home(data_dir: Path, issuer, validator_id: str) -> Path:
    """A validator directory with the trust list cached, as a previous pull left it."""
    home = data_dir / f"validator-{validator_id}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "trust.json").write_text(issuer.trust.dumps())
    return home


def run_validator(data_dir: Path, redis_url: str, *options: str, validator_id: str = "R1"):
    env = {**os.environ, "VEXE_REDIS_URL": redis_url, "VEXE_DATA_DIR": str(data_dir)}
    log = open(data_dir / f"{validator_id}.log", "ab")
    try:
        return subprocess.Popen(
            [str(VEXE), "validator", "run", "--id", validator_id, "--vehicle", "29B-00042",
             "--route", ROUTE, *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
    finally:
        log.close()


def test_stdin_one_json_decision_per_line(tmp_path, issuer, redis_url, redis_client):
    validator_home(tmp_path, issuer, "R1")
    now = clock.now()
    qr = issuer.rider(now=now).qr(now)
    proc = run_validator(tmp_path, redis_url, "--http-port", "0")
    try:
        proc.stdin.write(f"{qr}\n".encode())
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # answered before the next line is sent
        proc.stdin.write(f"\n{qr}\r\n".encode())  # an empty line is no scan; CRLF is fine
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline())
        proc.stdin.close()
        assert proc.wait(20) == 0  # end of input, HTTP off: stop
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.stdout.close()
    assert (first["decision"], first["reason"]) == ("accept", "ok")
    assert (second["decision"], second["reason"]) == ("refuse", "replayed")
    assert first["pass"]["routes"] == [ROUTE]
    # The last push on the way out sent both trips.
    assert [t.id for t in stream_trips(redis_client)] == [first["trip_id"], second["trip_id"]]


def test_only_the_line_ending_is_stripped(make_validator, issuer):
    """Spaces are base45 characters: a scanner's line is decided on exactly as it was read."""
    validator = make_validator(passback=0)
    now = clock.now()
    qr = next(qr for qr in (issuer.rider(now=now).qr(now) for _ in range(20)) if " " in qr)
    out = io.StringIO()
    read_scanner(validator, io.BytesIO(f"{qr}\r\n{qr} \n".encode()), out)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["reason"] == "ok"
    assert second["reason"] == "malformed"  # the trailing space was kept, so not the same text


def test_http_and_sigterm(tmp_path, issuer, redis_url, redis_client):
    validator_home(tmp_path, issuer, "R2")
    port = free_port()
    proc = run_validator(tmp_path, redis_url, "--http-port", str(port), "--no-stdin",
                         "--stop", "S9", validator_id="R2")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(base + "/healthz"), timeout=20)
        now = clock.now()
        request = urllib.request.Request(
            base + "/scan", data=json.dumps({"qr": issuer.rider(now=now).qr(now)}).encode(),
            headers={"Content-Type": "application/json", "X-Vexe-Client": "test"})
        with urllib.request.urlopen(request, timeout=5) as response:
            decision = json.loads(response.read())
        status = json.loads(_get(base + "/status"))
        assert (status["validator"], status["stop"], status["trust_list_size"]) == ("R2", "S9", 1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stdin.close()
    assert decision["decision"] == "accept"
    assert [t.id for t in stream_trips(redis_client)] == [decision["trip_id"]]


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None


CRASH_BETWEEN_PUSH_AND_ACK = textwrap.dedent("""
    import os, signal, sys
    from validator.device import Validator
    from validator.sync import Syncer, connect

    home, url, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
    validator = Validator(validator_id="K1", vehicle="29B-00042", route="32", data_dir=home)
    for line in sys.stdin:
        print(validator.scan(line.rstrip("\\n"), now).trip.id, flush=True)
    # Redis takes the batch; the process dies before the journal notes it.
    validator.journal.mark_pushed = lambda seq: os.kill(os.getpid(), signal.SIGKILL)
    Syncer(validator.journal, validator.lists, connect(url), validator_id="K1").push_once(now)
""")


def test_killed_between_push_and_acknowledgement_nothing_lost_nothing_twice(
        tmp_path, issuer, redis_url, redis_client):
    home = validator_home(tmp_path, issuer, "K1")
    now = clock.now()
    qrs = [issuer.rider(now=now).qr(now) for _ in range(6)]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_BETWEEN_PUSH_AND_ACK, str(home), redis_url, str(now)],
        input="".join(f"{qr}\n" for qr in qrs).encode(), capture_output=True, timeout=60)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    assert len(stream_trips(redis_client)) == 6
    with Journal(home / "journal.db") as journal:
        assert journal.backlog() == 6  # the acknowledgement never made it to disk

    # Restarted: two more scans, then the end of input; the last push resends all eight.
    publish_trust(redis_client, issuer)
    proc = run_validator(tmp_path, redis_url, "--http-port", "0", validator_id="K1")
    later = clock.now()
    out, _ = proc.communicate(
        "".join(f"{issuer.rider(now=later).qr(later)}\n" for _ in range(2)).encode(), timeout=30)
    assert proc.returncode == 0
    assert [json.loads(line)["decision"] for line in out.splitlines()] == ["accept", "accept"]

    with Journal(home / "journal.db") as journal:
        assert journal.backlog() == 0
        journaled = journal.trips()
    assert len(journaled) == 8
    assert stream_trips(redis_client) == journaled


def test_run_usage_errors(tmp_path):
    runner = CliRunner()
    nothing = runner.invoke(main, ["validator", "run", "--id", "X", "--vehicle", "V", "--route",
                                   "1", "--no-stdin", "--http-port", "0",
                                   "--data-dir", str(tmp_path)])
    assert nothing.exit_code == 2 and nothing.stderr.startswith("vexe: ")
    bad_id = runner.invoke(main, ["validator", "run", "--id", "../etc", "--vehicle", "V",
                                  "--route", "1", "--data-dir", str(tmp_path)])
    assert bad_id.exit_code == 2 and "validator id" in bad_id.stderr
    assert list(tmp_path.iterdir()) == []
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        in_use = runner.invoke(main, ["validator", "run", "--id", "X", "--vehicle", "V",
                                      "--route", "1", "--data-dir", str(tmp_path), "--redis-url",
                                      "redis://127.0.0.1:1/0", "--http-port", port])
    assert in_use.exit_code == 2
    assert in_use.stderr.startswith(f"vexe: cannot serve HTTP on 127.0.0.1:{port}")


@pytest.mark.parametrize("options", [["--http-port", "70000"], ["--passback", "-1"]])
def test_run_option_ranges(options, tmp_path):
    result = CliRunner().invoke(main, ["validator", "run", "--id", "X", "--vehicle", "V",
                                       "--route", "1", "--data-dir", str(tmp_path), *options])
    assert result.exit_code == 2
