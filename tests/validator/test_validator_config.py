"""The configuration file: read whole, checked at start, one clear line for each mistake."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared import clock
from validator import config as configuration
from validator.config import ConfigError
from vexe.cli import main
from tests.testkit import ROUTE, stream_trips, wait_for

GOOD = """
[validator]
id = "V-0042"
vehicle = "29B-00042"
company = "transerco"
data_dir = "{data_dir}"
mode = "alight"

[position]
route = "32"
stop = "S17"

[redis]
url = "{redis_url}"

[windows]
freshness = 30
passback = 300
retention_days = 7

[journal]
max_mb = 64

[http]
port = {port}

[input]
scanner = "none"
camera_size = [320, 240]
camera_roi = [40, 20, 240, 200]
"""


def write(tmp_path: Path, text: str, name: str = "validator.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def good(tmp_path, redis_url="redis://127.0.0.1:6379/0", port=8090) -> str:
    return GOOD.format(data_dir=tmp_path / "data", redis_url=redis_url, port=port)


def test_a_full_file_is_read(tmp_path):
    config = configuration.load(write(tmp_path, good(tmp_path)))
    assert (config.validator_id, config.vehicle, config.company, config.mode) == (
        "V-0042", "29B-00042", "transerco", "alight")
    assert (config.route, config.stop, config.freshness, config.passback) == ("32", "S17", 30, 300)
    assert config.camera_roi == (40, 20, 240, 200) and config.journal_max_mb == 64
    assert config.home == tmp_path / "data" / "validator-V-0042"


def test_the_smallest_file_takes_the_defaults(tmp_path):
    config = configuration.load(write(tmp_path, """
        [validator]
        id = "V1"
        vehicle = "B1"
        [position]
        route = "32"
    """))
    assert (config.mode, config.passback, config.http_port, config.scanner) == (
        "board", 600, 8090, "stdin")
    assert config.kiosk_languages == ("vi",)  # a bus shows one language: Vietnamese


def test_the_screen_may_show_two_languages(tmp_path):
    config = configuration.load(write(tmp_path, REQUIRED + "[kiosk]\nlanguages = [\"vi\", \"en\"]"))
    assert config.kiosk_languages == ("vi", "en")


REQUIRED = "[validator]\nid = \"V1\"\nvehicle = \"B1\"\n[position]\nroute = \"32\"\n"


@pytest.mark.parametrize("text, message", [
    ("[validator\nid=1", "not valid TOML"),
    ("[position]\nroute = \"32\"", "[validator] id is required"),
    ("[validator]\nid = \"V1\"\n[position]\nroute = \"32\"", "[validator] vehicle is required"),
    ("[validator]\nid = \"V1\"\nvehicle = \"B\"", "[position] route is required"),
    (REQUIRED + "[radis]\nurl = \"x\"", "unknown table [radis]"),
    (REQUIRED.replace("route", "route = \"1\"\nstpo = \"S\"\n#"), "unknown key 'stpo' in [position]"),
    ("validator = 3\n" + REQUIRED.replace("[validator]\n", "[x]\n"), "validator must be a table"),
    (REQUIRED.replace("\"V1\"", "\"../etc\""), "[validator] id '../etc' must be letters"),
    (REQUIRED.replace("\"V1\"", "42"), "[validator] id must be a non-empty string"),
    (REQUIRED.replace("\"B1\"", "\"\""), "[validator] vehicle must be a non-empty string"),
    (REQUIRED + "[windows]\npassback = -1", "[windows] passback must be a whole number"),
    (REQUIRED + "[windows]\npassback = \"10 minutes\"", "got \"10 minutes\""),
    (REQUIRED + "[windows]\nfreshness = 0", "[windows] freshness must be a whole number"),
    (REQUIRED + "[windows]\nfreshness = true", "got true"),
    (REQUIRED + "[windows]\nretention_days = 0", "[windows] retention_days must be a number"),
    (REQUIRED + "[journal]\nmax_mb = -5", "[journal] max_mb must be a number"),
    (REQUIRED + "[http]\nport = 70000", "[http] port must be a whole number from 0 to 65535"),
    (REQUIRED + "[redis]\nurl = \"http://x\"", "[redis] url must look like redis://"),
    (REQUIRED + "[redis]\nurl = \"redis://u:secret@h:6379/0\"", "must not hold a password"),
    (REQUIRED + "[redis]\nurl = \"redis://h:port/0\"", "[redis] url is not a valid URL"),
    (REQUIRED.replace("\"V1\"", "\"V1\"\nmode = \"exit\""), "[validator] mode must be"),
    (REQUIRED + "stop_source = \"gps\"", "[position] stop_source must be one of"),
    (REQUIRED + "stop_source = \"fixed\"", "[position] stop is required when stop_source"),
    (REQUIRED + "gps = \"/dev/ttyUSB0\"", "[position] gps must be nmea:DEVICE or gpsd://"),
    (REQUIRED + "gps = \"gpsd://h:99999\"", "[position] gps gpsd://HOST:PORT has a bad port"),
    (REQUIRED + "gps = 3", "[position] gps must be nmea:DEVICE"),
    (REQUIRED + "stop = \"S1\"\nstop_source = \"fixed\"\ngps = \"nmea:/dev/ttyUSB0\"",
     "[position] gps has no use when stop_source is \"fixed\""),
    (REQUIRED + "max_stop_distance = 0", "[position] max_stop_distance must be a number"),
    (REQUIRED + "max_stop_distance = \"150 m\"", "got \"150 m\""),
    (REQUIRED + "[input]\ncamera_size = [640]", "[input] camera_size must be [width, height]"),
    (REQUIRED + "[input]\ncamera = \"/dev/video0\"\ncamera_roi = [600, 0, 100, 100]",
     "[input] camera_roi must be [x, y, width, height] inside the 640x480 frame"),
    (REQUIRED + "[input]\nscanner = \"none\"\n[http]\nport = 0", "nothing to read scans from"),
    (REQUIRED + "[kiosk]\nlanguages = \"vi\"", "[kiosk] languages must be one or two of vi, en"),
    (REQUIRED + "[kiosk]\nlanguages = []", "[kiosk] languages must be one or two"),
    (REQUIRED + "[kiosk]\nlanguages = [\"fr\"]", "got [\"fr\"]"),
    (REQUIRED + "[kiosk]\nlanguages = [\"vi\", \"vi\"]", "[kiosk] languages must be"),
    (REQUIRED + "[kiosk]\nlanguages = [\"vi\", 1]", "[kiosk] languages must be"),
    (REQUIRED + "[kiosk]\nlanguage = [\"vi\"]", "unknown key 'language' in [kiosk]"),
])
def test_each_mistake_is_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        configuration.load(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_or_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration .*No such file"):
        configuration.load(tmp_path / "nope.toml")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe[validator]")
    with pytest.raises(ConfigError, match="not valid TOML"):
        configuration.load(tmp_path / "binary.toml")


class TestPassword:
    def test_from_an_owner_only_file(self, tmp_path):
        secret = tmp_path / "redis-password"
        secret.write_text("s3cret-pass\n")
        secret.chmod(0o600)
        config = configuration.load(write(
            tmp_path, REQUIRED + f"[redis]\nusername = \"V1\"\npassword_file = \"{secret}\""))
        assert config.redis_password == "s3cret-pass"
        assert "s3cret" not in repr(config) and "s3cret" not in config.redis_where()

    def test_a_file_others_can_read_is_refused(self, tmp_path):
        secret = tmp_path / "redis-password"
        secret.write_text("s3cret-pass")
        secret.chmod(0o644)
        with pytest.raises(ConfigError, match="can be read by others .*chmod 600") as caught:
            configuration.load(write(tmp_path, REQUIRED + f"[redis]\npassword_file = \"{secret}\""))
        assert "s3cret" not in str(caught.value)

    @pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\n", "is empty"),
                                                  (b"\xff\xfe", "not UTF-8")])
    def test_an_empty_or_binary_file_is_refused(self, tmp_path, content, message):
        secret = tmp_path / "redis-password"
        secret.write_bytes(content)
        secret.chmod(0o600)
        with pytest.raises(ConfigError, match=message):
            configuration.load(write(tmp_path, REQUIRED + f"[redis]\npassword_file = \"{secret}\""))

    def test_from_the_environment(self, tmp_path):
        config = configuration.load(write(tmp_path, REQUIRED),
                                    environ={"VEXE_REDIS_PASSWORD": "from-env"})
        assert config.redis_password == "from-env"


def test_validator_run_with_a_config_file_and_a_redis_acl_user(tmp_path, issuer, redis_server):
    """The process reads the file, logs in as its own ACL user, and never prints the password."""
    import redis

    from validator.sync import ACL_RULES
    from validator_testkit import publish_trust
    redis_url = redis_server.url
    redis_client = redis.Redis.from_url(redis_url)
    user, password = "V-0042", "pw-" + os.urandom(8).hex()
    redis_client.execute_command("ACL", "SETUSER", user, "on", f">{password}",
                                 *ACL_RULES.split())
    try:
        publish_trust(redis_client, issuer)
        home = tmp_path / "data" / "validator-V-0042"
        home.mkdir(parents=True)
        (home / "trust.json").write_text(issuer.trust.dumps())
        secret = tmp_path / "redis-password"
        secret.write_text(password)
        secret.chmod(0o600)
        text = good(tmp_path, redis_url=redis_url).replace(
            "[redis]\n", f"[redis]\nusername = \"{user}\"\npassword_file = \"{secret}\"\n")
        path = write(tmp_path, text.replace('scanner = "none"', 'scanner = "stdin"'))
        now = clock.now()
        qr = issuer.rider(now=now).qr(now)
        proc = subprocess.run(
            [sys.executable, "-m", "validator", "run", "--config", str(path), "--http-port", "0",
             "--mode", "board"], input=f"{qr}\n".encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
        [decision] = [json.loads(line) for line in proc.stdout.splitlines()]
        assert (decision["decision"], decision["mode"]) == ("accept", "board")  # the flag won
        [trip] = stream_trips(redis_client)
    finally:
        redis_client.close()
    assert (trip.id, trip.company, trip.stop) == (decision["trip_id"], "transerco", "S17")
    log = proc.stderr.decode()
    assert f"Redis redis://{user}@" in log and password not in log


@pytest.mark.parametrize("args, message", [
    (["--config", "nope.toml"], "cannot read configuration nope.toml"),
    (["--vehicle", "B"], "--id and --route required, or --config FILE"),
    (["--id", "V1", "--vehicle", "B", "--route", "32", "--gps", "/dev/ttyUSB0"],
     "[position] gps must be nmea:DEVICE or gpsd://HOST:PORT"),
])
def test_run_errors_are_one_line(tmp_path, args, message):
    result = CliRunner().invoke(main, ["validator", "run", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("vexe: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_bad_file_stops_the_process_before_anything_is_created(tmp_path):
    path = write(tmp_path, good(tmp_path).replace("passback = 300", "passback = -3"))
    proc = subprocess.run([sys.executable, "-m", "validator", "run", "--config", str(path)],
                          capture_output=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (f"vexe: {path}: [windows] passback must be a whole number "
                                    "from 0 to 86400, got -3\n")
    assert not (tmp_path / "data").exists()


def test_health_and_kiosk_answer_under_the_config_port(tmp_path, issuer):
    """Served from the file's [http] port: the page, the state, health."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tmp_path / "data" / "validator-V-0042"
    home.mkdir(parents=True)
    (home / "trust.json").write_text(issuer.trust.dumps())
    path = write(tmp_path, good(tmp_path, redis_url="redis://127.0.0.1:1/0", port=port))
    proc = subprocess.Popen([sys.executable, "-m", "validator", "run", "--config", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        health = json.loads(wait_for(lambda: _get(base + "/healthz"), timeout=20))
        assert health["ok"] is True and health["online"] is False  # Redis away is not unhealthy
        state = json.loads(_get(base + "/kiosk/state"))
        assert (state["route"], state["stop"], state["mode"]) == (ROUTE, "S17", "alight")
        assert b"<title>" in _get(base + "/")
    finally:
        proc.terminate()
        proc.wait(20)
        proc.stdout.close()
        proc.stderr.close()


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None
