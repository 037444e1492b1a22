"""The systemd units in deploy/: systemd accepts each, and the commands they run start the
issuer and an ingest worker from an installed vexe (this test's virtual environment stands in
for /opt/vexe/.venv)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests

from shared.redis_keys import TRIPS_GROUP, TRIPS_STREAM
from tests.testkit import free_port, wait_for

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = sorted([*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")])
INSTALLED = "/opt/vexe/.venv"  # where the units expect vexe's virtual environment

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="no systemd-analyze (make /usr/bin/systemd-analyze)")


class Service:
    """A unit's [Service] section as systemd reads the parts used here: its environment
    (Environment=, later wins) and its commands, with ``%i`` and ``%H`` filled in."""

    def __init__(self, path: Path, instance: str = ""):
        self.settings: dict[str, list[str]] = {}
        section = None
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and line and not line.startswith("#"):
                key, _, value = line.partition("=")
                value = value.replace("%i", instance).replace("%H", socket.gethostname())
                self.settings.setdefault(key, []).append(value.replace(INSTALLED, sys.prefix))
        self.environment = dict(word.split("=", 1) for value in self.settings["Environment"]
                                for word in shlex.split(value))

    def command(self, key: str, env: dict[str, str]) -> list[str]:
        """The command line, with ``$NAME`` split into words as systemd does."""
        words = []
        for word in shlex.split(self.settings[key][0]):
            words += env.get(word[1:], "").split() if word.startswith("$") else [word]
        return words


def test_every_service_is_shipped():
    assert {unit.name for unit in UNITS} == {"vexe-validator.service", "vexe-issuer.service",
                                             "vexe-ingest@.service", "vexe-reminders.service",
                                             "vexe-reminders.timer",
                                             "vexe-payments-expire.service",
                                             "vexe-payments-expire.timer"}


@needs_systemd
@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_systemd_accepts_the_unit(unit, tmp_path):
    """`systemd-analyze verify`, without a warning. It checks that the programs exist, so
    the unit is verified with this environment's path in place of /opt/vexe/.venv."""
    name = unit.name.replace("@.", "@1.")  # a template is verified as one of its instances
    (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, sys.prefix))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_issuer_listens_on_localhost_for_the_proxy():
    service = Service(DEPLOY / "vexe-issuer.service")
    assert service.environment["GUNICORN_CMD_ARGS"].startswith("--bind 127.0.0.1:8000 ")
    assert service.settings["EnvironmentFile"] == ["/etc/vexe/issuer.env"]
    assert service.settings["ProtectSystem"] == ["strict"]
    assert service.settings["NoNewPrivileges"] == ["true"]


def test_the_reminders_timer_runs_the_command_daily():
    service = Service(DEPLOY / "vexe-reminders.service")
    assert service.settings["Type"] == ["oneshot"]
    assert service.command("ExecStart", {})[1:] == ["reminders", "send"]
    assert service.settings["EnvironmentFile"] == ["/etc/vexe/issuer.env"]
    timer = (DEPLOY / "vexe-reminders.timer").read_text()
    assert "OnCalendar=*-*-* 08:00:00 Asia/Ho_Chi_Minh" in timer and "Persistent=true" in timer


def test_the_expiry_timer_runs_the_command_every_five_minutes():
    service = Service(DEPLOY / "vexe-payments-expire.service")
    assert service.settings["Type"] == ["oneshot"]
    assert service.command("ExecStart", {})[1:] == ["payments", "expire"]
    assert service.settings["EnvironmentFile"] == ["/etc/vexe/issuer.env"]
    timer = (DEPLOY / "vexe-payments-expire.timer").read_text()
    assert "OnCalendar=*:0/5" in timer and "Persistent=true" in timer


def _env(service: Service, tmp_path: Path, redis_url: str, **settings: str) -> dict[str, str]:
    """The unit's environment, then what issuer.env would set (a data directory and Redis
    database of this test's own)."""
    return {"PATH": os.environ["PATH"], **service.environment,
            "VEXE_DATA_DIR": str(tmp_path / "data"), "VEXE_REDIS_URL": redis_url, **settings}


def test_the_issuer_units_commands_start_the_issuer(tmp_path, redis_url):
    """ExecStartPre (`vexe init`) makes a new data directory ready, and ExecStart runs the
    issuer under gunicorn with the shipped configuration."""
    service = Service(DEPLOY / "vexe-issuer.service")
    port = free_port()
    env = _env(service, tmp_path, redis_url,
               GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port} --workers 1")
    subprocess.run(service.command("ExecStartPre", env), env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    with (tmp_path / "issuer.log").open("w") as log:
        proc = subprocess.Popen(service.command("ExecStart", env), env=env, cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/card/") or proc.poll(),
                     timeout=60, what="the issuer")
            assert proc.poll() is None, (tmp_path / "issuer.log").read_text()
        finally:
            proc.terminate()
            assert proc.wait(30) == 0


def test_an_ingest_instance_joins_the_consumer_group_under_its_own_name(tmp_path, redis_url):
    """`vexe-ingest@1`: consumer HOST-1 of the ingest group, stopped cleanly by SIGTERM."""
    issuer = Service(DEPLOY / "vexe-issuer.service")
    service = Service(DEPLOY / "vexe-ingest@.service", instance="1")
    env = _env(service, tmp_path, redis_url)
    subprocess.run(issuer.command("ExecStartPre", env), env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    client = redis.Redis.from_url(redis_url)
    with (tmp_path / "ingest.log").open("w") as log:
        proc = subprocess.Popen(service.command("ExecStart", env), env=env, cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _consumers(client) or proc.poll() is not None, timeout=60,
                     what="the ingest worker")
            assert _consumers(client) == [f"{socket.gethostname()}-1"], (
                tmp_path / "ingest.log").read_text()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            client.close()


def _consumers(client: redis.Redis) -> list[str]:
    try:
        return [c["name"].decode() for c in client.xinfo_consumers(TRIPS_STREAM, TRIPS_GROUP)]
    except redis.ResponseError:  # no stream or group yet
        return []


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False
