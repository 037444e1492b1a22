"""What README.md tells a reader to type: every command `vexe --help` offers is in its
command list, and its "On a laptop" block starts an issuer that answers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests

from tests.testkit import wait_for
from vexe.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BIN = Path(sys.executable).parent


def _block_after(heading: str) -> str:
    """The first fenced block after ``heading``."""
    match = re.search(re.escape(heading) + r".*?```\w*\n(.*?)```", README, re.S)
    assert match, f"README.md: no block after {heading!r}"
    return match.group(1)


def _commands(group: click.Group, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every command under ``group``, as the words that name it."""
    ctx = click.Context(group, info_name=path[-1])
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _commands(command, path + (name,))
        else:
            found.append(path + (name,))
    return found


def _listed(command: tuple[str, ...], lines: list[list[str]]) -> bool:
    """A line of the list names it, word by word (``roles|password`` names both)."""
    return any(len(words) >= len(command) and
               all(word in words[i].split("|") for i, word in enumerate(command))
               for words in lines)


def test_every_command_is_in_the_readmes_command_list():
    lines = [line.split("#")[0].split() for line in
             _block_after("## The command line").splitlines()]
    missing = [" ".join(c) for c in _commands(main, ("vexe",)) if not _listed(c, lines)]
    assert missing == []


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_laptop_block_starts_an_issuer_riders_and_operators_can_sign_in_to(tmp_path,
                                                                              redis_url):
    """Run as written in an empty directory (a fresh clone's data directory is `var`, not
    there yet), after its first line (`make install` and the virtual environment, which is
    this test's own). Only Redis is this test's database rather than database 0."""
    block = _block_after("On a laptop:").splitlines()
    assert block[0].startswith("make install")
    if not (_port_free(8000) and _port_free(8100)):
        pytest.skip("127.0.0.1:8000 or :8100 is taken; the block uses both")
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/root"),
           "VEXE_REDIS_URL": redis_url}
    with (tmp_path / "laptop.log").open("w") as log:
        shell = subprocess.Popen(["bash", "-e", "-c", "\n".join(block[1:])], cwd=tmp_path,
                                 env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            # Both servers of the block: the e-ID stand-in may come up after the issuer on a
            # busy machine, and /signin needs it (a 502 until then).
            wait_for(lambda: (_answers("http://127.0.0.1:8000/healthz") and _answers(
                "http://127.0.0.1:8100/.well-known/openid-configuration"))
                     or shell.poll() is not None, timeout=60, what="the laptop's issuer and e-ID")
            assert shell.poll() is None, (tmp_path / "laptop.log").read_text()
            signin = requests.get("http://127.0.0.1:8000/signin", allow_redirects=False,
                                  timeout=10)
            assert signin.status_code == 302
            assert signin.headers["Location"].startswith("http://127.0.0.1:8100/")
            assert requests.get(signin.headers["Location"], timeout=10).ok  # the e-ID's page
            for page in ("/console/login", "/card/"):
                assert requests.get(f"http://127.0.0.1:8000{page}", timeout=10).status_code == 200
        finally:
            os.killpg(shell.pid, signal.SIGTERM)
            shell.wait(30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False
