"""Slow clients against the issuer as it is deployed: gunicorn with the shipped settings
(issuer/gunicorn_conf.py), in its own process. A client trickling its headers one line a
second (slowloris) holds a worker at most the configured timeout, then is cut; meanwhile
/healthz answers from the other workers. (In front of it all stands a buffering proxy,
docs/deploy-issuer.md, so that such clients don't reach gunicorn at all.)"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from issuer import gunicorn_conf
from hardening_testkit import environment
from tests.testkit import free_port, wait_for

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
SLOW_CLIENTS = 2


@pytest.fixture
def database_url(tmp_path):
    """SQLite alone: what is tested here does not depend on the database."""
    return f"sqlite:///{tmp_path / 'vexe.db'}"


@pytest.fixture
def gunicorn(tmp_path, initialised):
    """The issuer under gunicorn with the shipped settings and one worker more than there
    are slow clients."""
    env = environment(VEXE_DATA_DIR=initialised["DATA_DIR"],
                      VEXE_DATABASE_URL=initialised["DATABASE_URL"],
                      VEXE_REDIS_URL=initialised["REDIS_URL"])
    port = free_port()
    with open(tmp_path / "gunicorn.log", "wb") as log:
        proc = subprocess.Popen([GUNICORN, "-c", "python:issuer.gunicorn_conf", "--workers",
                                 str(SLOW_CLIENTS + 1), "--bind", f"127.0.0.1:{port}",
                                 "issuer:create_app()"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base, proc, tmp_path), timeout=60, what="gunicorn up")
        yield port, base
    finally:
        proc.terminate()
        proc.wait(30)


def _healthy(base: str, proc, tmp_path) -> bool:
    assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Slowloris:
    """One connection sending a request's headers a line a second, never ending them; notes
    when the server closes it."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.started = time.monotonic()
        self.cut_after: float | None = None
        self.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        deadline = self.started + gunicorn_conf.timeout + 30
        n = 0
        while time.monotonic() < deadline:
            try:
                if select.select([self.sock], [], [], 1.0)[0] and not self.sock.recv(4096):
                    break  # the server closed it
                self.sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
                n += 1
            except OSError:  # reset, or a broken pipe
                break
        else:
            return
        self.cut_after = time.monotonic() - self.started

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_a_slow_client_is_cut_at_the_timeout_and_healthz_answers_meanwhile(gunicorn):
    port, base = gunicorn
    assert gunicorn_conf.worker_class == "sync" and gunicorn_conf.timeout <= 30
    slow = [Slowloris(port) for _ in range(SLOW_CLIENTS)]
    try:
        answers = []
        while any(s.thread.is_alive() for s in slow):
            # Held workers would leave this unanswered past the client's timeout (an error).
            answers.append(requests.get(f"{base}/healthz", timeout=5).status_code)
            time.sleep(1)
        for s in slow:
            assert s.cut_after is not None, "a slow client was never cut"
            # Not before the configured timeout (the sender's deadline bounds the other side).
            assert s.cut_after >= gunicorn_conf.timeout - 2, s.cut_after
        assert len(answers) >= gunicorn_conf.timeout // 2
        assert all(status == 200 for status in answers), answers
    finally:
        for s in slow:
            s.close()
    # The workers cut are replaced: the issuer answers as before.
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200


def test_the_deployment_notes_name_the_settings_shipped():
    notes = (Path(__file__).resolve().parents[2] / "docs" / "deploy-issuer.md").read_text()
    for name in ("client_header_timeout", "client_body_timeout", "proxy_request_buffering",
                 f"timeout = {gunicorn_conf.timeout}", "--workers"):
        assert name in notes, name
    assert os.path.basename(gunicorn_conf.__file__) in notes
