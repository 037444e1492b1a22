"""Nobody to restart it: the systemd unit, readiness and watchdog, a scanner on a serial port."""

import json
import os
import shutil
import socket
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from shared import clock
from test_validator_run import validator_home
from tests.testkit import wait_for

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "vexe-validator.service"


def test_the_unit_file_is_valid_for_systemd(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    assert "ExecStart=/opt/vexe/.venv/bin/python -m validator run --config " in text
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=always" in text
    # The same unit with this machine's Python, so systemd can check the command exists.
    local = tmp_path / "vexe-validator.service"
    local.write_text(text.replace("/opt/vexe/.venv/bin/python", sys.executable))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True,
                            text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_ready_and_watchdog_reach_the_service_manager(tmp_path, issuer):
    validator_home(tmp_path, issuer, "W1")
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(address)
        notify.settimeout(15)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "300000"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "validator", "run", "--id", "W1", "--vehicle", "B",
             "--route", "32", "--data-dir", str(tmp_path), "--http-port", "0",
             "--redis-url", "redis://127.0.0.1:1/0"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            messages = [notify.recv(256)]
            while messages.count(b"WATCHDOG=1") < 2:
                messages.append(notify.recv(256))
            proc.stdin.close()  # the end of its only input: it stops
            assert proc.wait(30) == 0
            messages.append(notify.recv(256))
        finally:
            proc.kill()
    assert messages[0] == b"READY=1" and messages[-1] == b"STOPPING=1"


def test_a_scanner_on_a_serial_port(tmp_path, issuer):
    """A USB scanner in serial mode: the validator opens the port raw and reads lines."""
    validator_home(tmp_path, issuer, "T1")
    controller, device = os.openpty()
    port = os.ttyname(device)
    config = tmp_path / "t1.toml"
    config.write_text(f'[validator]\nid = "T1"\nvehicle = "B"\ndata_dir = "{tmp_path}"\n'
                      f'[position]\nroute = "32"\n[redis]\nurl = "redis://127.0.0.1:1/0"\n'
                      f'[http]\nport = 0\n[input]\nscanner = "{port}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "validator", "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        now = clock.now()
        qr = issuer.rider(now=now).qr(now)
        # Until the validator has opened the port and set it raw, the line discipline
        # echoes: wait for that, not for a guessed time (a busy machine starts it slowly).
        wait_for(lambda: not termios.tcgetattr(device)[3] & termios.ECHO, timeout=30)
        # A scanner sends the text in bursts and ends it with CR LF.
        for part in (qr[:100], qr[100:], "\r\n", "junk\r\n"):
            os.write(controller, part.encode())
            time.sleep(0.05)
        first = json.loads(proc.stdout.readline())
        second = json.loads(proc.stdout.readline())
        echoed = _drain(controller)
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.stdout.close()
        os.close(controller)
        os.close(device)
    assert (first["decision"], second["reason"]) == ("accept", "malformed")
    assert echoed == b""  # raw mode: nothing is sent back to the scanner


def _drain(fd) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""
