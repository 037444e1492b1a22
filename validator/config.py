"""The validator's configuration: one TOML file, checked whole before anything starts.

    [validator]
    id = "V-0042"                 # names its journal in Redis: letters, digits, . _ -
    vehicle = "29B-00042"
    company = "transerco"         # the bus company running the vehicle (for settlement)
    data_dir = "/var/lib/vexe-validator"
    mode = "board"                # "board" (front door) or "alight"; POST /mode changes it

    [position]
    route = "32"
    stop = "S17"                  # optional
    stop_source = "position"      # "position": the bus posts stops or GPS fixes
                                  # (POST /position); "fixed": this stop always (a gate)
    gps = "nmea:/dev/ttyUSB0"     # optional: the GPS, or "gpsd://127.0.0.1:2947" (gpsd)
    max_stop_distance = 150       # metres from a stop for a GPS fix to be at it

    [redis]
    url = "redis://10.8.0.1:6379/0"
    username = "V-0042"           # its own ACL user: vexe validator acl create
    password_file = "/etc/vexe/redis-password"   # owner-only; or VEXE_REDIS_PASSWORD
    # On a Redis Cluster: url = "redis+cluster://10.8.0.1:7000" (any node), and the shard
    # (validator group) whose stream this validator adds to.
    shard = "depot-3"
    heartbeat_seconds = 30        # how often the validator says how it is (validator.heartbeat)

    [windows]
    freshness = 45                # seconds a QR's proof stays good, either side
    passback = 600                # seconds; 0 = off
    retention_days = 30           # pushed scans kept on the bus for audits

    [journal]
    max_mb = 256                  # the journal refuses scans past this, before the disk fills

    [http]
    host = "127.0.0.1"
    port = 8090                   # the kiosk page, POST /scan, /position, /mode; 0 = none

    [kiosk]
    languages = ["vi"]            # the passenger screen's: one ("vi" or "en"), or two, the
                                  # first large and the second below it (["vi", "en"])

    [input]
    scanner = "stdin"             # "stdin", "none", or a serial device like "/dev/ttyACM0"
    camera = "/run/vexe/camera"   # optional: raw 8-bit grey frames (a FIFO or a device)
    camera_size = [640, 480]
    camera_roi = [160, 90, 320, 300]   # optional: x, y, width, height tried first

Every error is one line naming the file, the table and the key. The Redis password never
appears in an error, a log line or ``GET /status``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from shared.i18n import LANGUAGES
from shared.redis_keys import SHARD
from shared.text import MAX_NAME, is_safe, name_problem
from shared.trip import ALIGHT, BOARD
from validator.check import DEFAULT_FRESHNESS, DEFAULT_PASSBACK
from validator.gps import GpsError, parse_source
from validator.heartbeat import BEAT_EVERY
from validator.locate import DEFAULT_MAX_DISTANCE

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATA_DIR = "var"
DEFAULT_HTTP_PORT = 8090
DEFAULT_RETENTION_DAYS = 30
PASSWORD_ENV = "VEXE_REDIS_PASSWORD"
# The id names a directory and the Redis high-water mark "<id>/<epoch>": no slashes.
VALIDATOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
STOP_SOURCES = ("position", "fixed")
MAX_CAMERA_SIDE = 4096


class ConfigError(ValueError):
    """The configuration is unusable; the message is one line for the operator."""


@dataclass(frozen=True)
class Config:
    validator_id: str
    vehicle: str
    route: str
    company: str | None = None
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    mode: str = BOARD
    stop: str | None = None
    stop_source: str = "position"
    gps: str | None = None
    max_stop_distance: float = DEFAULT_MAX_DISTANCE
    redis_url: str = DEFAULT_REDIS_URL
    redis_username: str | None = None
    redis_password: str | None = field(default=None, repr=False)  # never printed
    redis_shard: str | None = None
    heartbeat_seconds: float = BEAT_EVERY
    freshness: int = DEFAULT_FRESHNESS
    passback: int = DEFAULT_PASSBACK
    retention_days: float = DEFAULT_RETENTION_DAYS
    journal_max_mb: float | None = None
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    scanner: str = "stdin"
    camera: str | None = None
    camera_size: tuple[int, int] = (640, 480)
    camera_roi: tuple[int, int, int, int] | None = None
    kiosk_languages: tuple[str, ...] = ("vi",)
    # Where the settings came from, for messages: the file, or "the command line".
    source: str = "the command line"

    def __post_init__(self):
        check(self)

    @property
    def home(self) -> Path:
        """This validator's own directory under the data directory."""
        return self.data_dir / f"validator-{self.validator_id}"

    def with_changes(self, **changes) -> "Config":
        """A copy with some settings replaced (command-line flags over the file), rechecked."""
        return replace(self, **changes)

    def redis_where(self) -> str:
        """Where Redis is, for logs: scheme, host, port, database, user; never a password."""
        parts = urlsplit(self.redis_url)
        user = f"{self.redis_username}@" if self.redis_username else ""
        return f"{parts.scheme}://{user}{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


# -- reading a file ------------------------------------------------------------------------

_TABLES = {
    "validator": {"id", "vehicle", "company", "data_dir", "mode"},
    "position": {"route", "stop", "stop_source", "gps", "max_stop_distance"},
    "redis": {"url", "username", "password_file", "shard", "heartbeat_seconds"},
    "windows": {"freshness", "passback", "retention_days"},
    "journal": {"max_mb"},
    "http": {"host", "port"},
    "input": {"scanner", "camera", "camera_size", "camera_roi"},
    "kiosk": {"languages"},
}


def load(path: str | os.PathLike, environ: dict[str, str] | None = None) -> Config:
    """Read and check the configuration in ``path``; ConfigError with one line if unusable.

    ``environ`` (default: the process environment) may hold the Redis password.
    """
    environ = os.environ if environ is None else environ
    where = str(path)
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not valid TOML: not UTF-8 text") from None
    for table, value in data.items():
        if table not in _TABLES:
            raise ConfigError(f"{where}: unknown table [{table}]; expected one of "
                              f"{', '.join(f'[{name}]' for name in _TABLES)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {table} must be a table [{table}]")
        for key in value:
            if key not in _TABLES[table]:
                raise ConfigError(f"{where}: unknown key {key!r} in [{table}]; expected one of "
                                  f"{', '.join(sorted(_TABLES[table]))}")

    def get(table: str, key: str, default=None):
        return data.get(table, {}).get(key, default)

    def required(table: str, key: str):
        if key not in data.get(table, {}):
            raise ConfigError(f"{where}: [{table}] {key} is required")
        return data[table][key]

    settings = dict(
        validator_id=required("validator", "id"),
        vehicle=required("validator", "vehicle"),
        route=required("position", "route"),
        company=get("validator", "company"),
        data_dir=get("validator", "data_dir", DEFAULT_DATA_DIR),
        mode=get("validator", "mode", BOARD),
        stop=get("position", "stop"),
        stop_source=get("position", "stop_source", "position"),
        gps=get("position", "gps"),
        max_stop_distance=get("position", "max_stop_distance", DEFAULT_MAX_DISTANCE),
        redis_url=get("redis", "url", DEFAULT_REDIS_URL),
        redis_username=get("redis", "username"),
        redis_password=_password(where, get("redis", "password_file"), environ),
        redis_shard=get("redis", "shard"),
        heartbeat_seconds=get("redis", "heartbeat_seconds", BEAT_EVERY),
        freshness=get("windows", "freshness", DEFAULT_FRESHNESS),
        passback=get("windows", "passback", DEFAULT_PASSBACK),
        retention_days=get("windows", "retention_days", DEFAULT_RETENTION_DAYS),
        journal_max_mb=get("journal", "max_mb"),
        http_host=get("http", "host", "127.0.0.1"),
        http_port=get("http", "port", DEFAULT_HTTP_PORT),
        scanner=get("input", "scanner", "stdin"),
        camera=get("input", "camera"),
        camera_size=get("input", "camera_size", [640, 480]),
        camera_roi=get("input", "camera_roi"),
        kiosk_languages=get("kiosk", "languages", ["vi"]),
        source=where,
    )
    for name in ("data_dir",):
        if isinstance(settings[name], str):
            settings[name] = Path(settings[name])
    for name in ("camera_size", "camera_roi", "kiosk_languages"):
        if isinstance(settings[name], list):
            settings[name] = tuple(settings[name])
    return Config(**settings)


def _password(where: str, password_file, environ) -> str | None:
    if password_file is None:
        return environ.get(PASSWORD_ENV) or None
    if not isinstance(password_file, str) or not password_file:
        raise ConfigError(f"{where}: [redis] password_file must be a path")
    try:
        fd = os.open(password_file, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read [redis] password_file {password_file}: "
                          f"{exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{where}: [redis] password_file {password_file} can be read by "
                              f"others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        raw = file.read(4096)
    try:
        password = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: [redis] password_file {password_file} is not UTF-8 text") \
            from None
    if not password:
        raise ConfigError(f"{where}: [redis] password_file {password_file} is empty")
    return password


# -- checking ------------------------------------------------------------------------------

def check(config: Config) -> None:
    """ConfigError naming the first setting that is wrong."""
    where = config.source

    def fail(what: str, problem: str):
        raise ConfigError(f"{where}: {what} {problem}")

    def text(what: str, value, *, optional: bool = False, max_len: int = MAX_NAME):
        if value is None and optional:
            return
        problem = name_problem(value, max_len)
        if problem:
            fail(what, f"{problem}, got {_show(value)}")

    def integer(what: str, value, low: int, high: int):
        if type(value) is not int or not low <= value <= high:
            fail(what, f"must be a whole number from {low} to {high}, got {_show(value)}")

    def number(what: str, value, low: float, high: float):
        if type(value) not in (int, float) or not low < value <= high:
            fail(what, f"must be a number above {low} and at most {high}, got {_show(value)}")

    text("[validator] id", config.validator_id)
    if not VALIDATOR_ID.fullmatch(config.validator_id):
        fail("[validator] id", f"{config.validator_id!r} must be letters, digits, '.', '_' or '-'")
    text("[validator] vehicle", config.vehicle)
    text("[validator] company", config.company, optional=True)
    if not isinstance(config.data_dir, Path):
        fail("[validator] data_dir", f"must be a path, got {_show(config.data_dir)}")
    text("[validator] data_dir", str(config.data_dir), max_len=4096)
    if config.mode not in (BOARD, ALIGHT):
        fail("[validator] mode", f"must be \"{BOARD}\" or \"{ALIGHT}\", got {_show(config.mode)}")
    text("[position] route", config.route)
    text("[position] stop", config.stop, optional=True)
    if config.stop_source not in STOP_SOURCES:
        fail("[position] stop_source", f"must be one of {', '.join(STOP_SOURCES)}, "
                                       f"got {_show(config.stop_source)}")
    if config.stop_source == "fixed" and config.stop is None:
        fail("[position] stop", "is required when stop_source is \"fixed\"")
    if config.gps is not None:
        try:
            parse_source(config.gps)
        except GpsError as exc:
            fail("[position] gps", f"{exc}, got {_show(config.gps)}")
        if config.stop_source == "fixed":
            fail("[position] gps", "has no use when stop_source is \"fixed\"")
    number("[position] max_stop_distance", config.max_stop_distance, 0, 5000)
    _check_redis(config, fail)
    number("[redis] heartbeat_seconds", config.heartbeat_seconds, 0, 3600)
    integer("[windows] freshness", config.freshness, 1, 3600)
    integer("[windows] passback", config.passback, 0, 86400)
    number("[windows] retention_days", config.retention_days, 0, 3660)
    if config.journal_max_mb is not None:
        number("[journal] max_mb", config.journal_max_mb, 0, 1_000_000)
    text("[http] host", config.http_host, max_len=255)
    integer("[http] port", config.http_port, 0, 65535)
    if not isinstance(config.scanner, str) or not config.scanner:
        fail("[input] scanner", f"must be \"stdin\", \"none\" or a device path, "
                                f"got {_show(config.scanner)}")
    text("[input] scanner", config.scanner, max_len=4096)
    _check_camera(config, fail, text)
    languages = config.kiosk_languages
    if (not isinstance(languages, tuple) or not 1 <= len(languages) <= len(LANGUAGES)
            or not all(lang in LANGUAGES for lang in languages)
            or len(set(languages)) != len(languages)):
        fail("[kiosk] languages", f"must be one or two of {', '.join(LANGUAGES)}, e.g. "
                                  f"[\"vi\"] or [\"vi\", \"en\"], got {_show(languages)}")
    if config.scanner == "none" and not config.http_port and config.camera is None:
        fail("[input]", "leaves nothing to read scans from: no scanner, no camera, no HTTP")


def _check_redis(config: Config, fail) -> None:
    url = config.redis_url
    if not isinstance(url, str):
        fail("[redis] url", f"must be a string, got {_show(url)}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        fail("[redis] url", "is not a valid URL")
    if parts.scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster") or not (
            parts.hostname or parts.path):
        fail("[redis] url", "must look like redis://HOST:PORT/DB or rediss://HOST:PORT/DB, or "
                            "redis+cluster://HOST:PORT for a Redis Cluster")
    cluster = parts.scheme.endswith("+cluster")
    if cluster != (config.redis_shard is not None):
        fail("[redis] shard", "is needed with a redis+cluster:// URL, and only with one")
    if config.redis_shard is not None and (not isinstance(config.redis_shard, str)
                                           or not SHARD.fullmatch(config.redis_shard)):
        fail("[redis] shard", "must be 1 to 32 letters, digits, '.', '_' or '-'")
    if parts.password:
        # A password in the URL ends up in process listings and logs: keep it in a file.
        fail("[redis] url", "must not hold a password; use [redis] password_file or "
                            f"{PASSWORD_ENV}")
    if config.redis_username is not None and (
            not isinstance(config.redis_username, str) or not config.redis_username):
        fail("[redis] username", "must be a non-empty string")


def _check_camera(config: Config, fail, text) -> None:
    size = config.camera_size
    if (not isinstance(size, tuple) or len(size) != 2
            or not all(type(n) is int and 16 <= n <= MAX_CAMERA_SIDE for n in size)):
        fail("[input] camera_size", f"must be [width, height] in pixels (16 to "
                                    f"{MAX_CAMERA_SIDE}), got {_show(size)}")
    text("[input] camera", config.camera, optional=True, max_len=4096)
    roi = config.camera_roi
    if roi is None:
        return
    width, height = size
    if (not isinstance(roi, tuple) or len(roi) != 4 or not all(type(n) is int for n in roi)
            or roi[0] < 0 or roi[1] < 0 or roi[2] < 16 or roi[3] < 16
            or roi[0] + roi[2] > width or roi[1] + roi[3] > height):
        fail("[input] camera_roi", f"must be [x, y, width, height] inside the "
                                   f"{width}x{height} frame, got {_show(roi)}")


def _show(value) -> str:
    """A value as it would read in the file (TOML and JSON agree on these), escaped where
    it holds what a terminal should not print."""
    if isinstance(value, tuple):
        value = list(value)
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if is_safe(shown) else json.dumps(value, default=str)
