"""One logging set-up (shared.logs) for every process: text for a person at a terminal, JSON
lines elsewhere, either on demand (VEXE_LOG_FORMAT), a wrong setting refused in one line.
Seen on a real process: ``vexe validator run`` reading an empty standard input, which logs
as it starts and stops."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testkit import ROUTE

VEXE = Path(sys.executable).parent / "vexe"
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+: ")


def run_validator(tmp_path: Path, redis_url: str, *, terminal: bool, **settings: str):
    """The validator's standard error, from a terminal (a pty) or a pipe; its exit status."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXE_LOG_")}
    env.update(VEXE_REDIS_URL=redis_url, VEXE_DATA_DIR=str(tmp_path), **settings)
    command = [str(VEXE), "validator", "run", "--id", "T1", "--vehicle", "29B-00042",
               "--route", ROUTE, "--http-port", "0"]
    if not terminal:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60)
        return done.stderr.decode(), done.returncode
    main, secondary = pty.openpty()
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal's other end closed: the process is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    return out.decode().replace("\r\n", "\n"), proc.wait(30)


def test_a_terminal_gets_text(tmp_path, redis_url):
    err, status = run_validator(tmp_path, redis_url, terminal=True)
    lines = err.splitlines()
    assert status == 0 and lines
    assert all(TEXT_LINE.match(line) for line in lines), err
    assert all("validator_id=T1" in line for line in lines)


def test_a_pipe_gets_json_lines(tmp_path, redis_url):
    err, status = run_validator(tmp_path, redis_url, terminal=False)
    lines = [json.loads(line) for line in err.splitlines()]
    assert status == 0 and lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
        assert line["validator_id"] == "T1"


@pytest.mark.parametrize("terminal, setting, parse", [
    (True, "json", json.loads),
    (False, "text", lambda line: TEXT_LINE.match(line).group(0)),
])
def test_the_setting_wins(tmp_path, redis_url, terminal, setting, parse):
    err, status = run_validator(tmp_path, redis_url, terminal=terminal, VEXE_LOG_FORMAT=setting)
    assert status == 0 and err
    for line in err.splitlines():
        parse(line)


def test_a_level_hides_what_is_below_it(tmp_path, redis_url):
    err, status = run_validator(tmp_path, redis_url, terminal=False, VEXE_LOG_LEVEL="error")
    assert status == 0
    assert all(json.loads(line)["level"] in ("ERROR", "CRITICAL") for line in err.splitlines())


@pytest.mark.parametrize("name, value", [("VEXE_LOG_FORMAT", "xml"),
                                         ("VEXE_LOG_LEVEL", "loud")])
def test_a_wrong_setting_is_one_line(tmp_path, redis_url, name, value):
    err, status = run_validator(tmp_path, redis_url, terminal=False, **{name: value})
    assert status == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith(f"vexe: {name} must")
