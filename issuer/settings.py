"""Settings: one place that says what the issuer is configured with and where it comes from.

Order, later wins: the defaults below, ``VEXE_*`` environment variables, then the caller's
overrides (a test's config). The secrets may also live in files under ``DATA_DIR`` that
``vexe init`` creates, so a laptop needs no environment at all. The web app and the command
line both call :func:`resolve`, so ``vexe pass issue`` sees exactly what the server sees.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import flask

from issuer import keyring
from issuer.errors import NotReady
from shared.ticket import DEFAULT_CREDENTIAL_LIFETIME

ENV_PREFIX = "VEXE"
OPERATOR_TOKEN_FILE = "operator.token"

DEFAULTS = {
    "DATA_DIR": "var",
    "DATABASE_URL": None,  # sqlite:///<DATA_DIR>/vexe.db
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CREDENTIAL_LIFETIME": DEFAULT_CREDENTIAL_LIFETIME,
    # The three secret keys (issuer.keyring); else <DATA_DIR>/sealing.key, national-id.key,
    # cookie.key. Flask's SECRET_KEY is set from the cookie key.
    "SEALING_KEY": None,
    "NATIONAL_ID_KEY": None,
    "COOKIE_KEY": None,
    # The bootstrap operator's token, which `vexe init` registers (a token like any other,
    # revocable); else <DATA_DIR>/operator.token. The server itself never compares with it.
    "OPERATOR_TOKEN": None,
    # Sales of next month's passes open on this day of the month, Hanoi time.
    "SALES_OPEN_DAY": 20,
    # The national e-ID's OpenID Connect provider (issuer URL, with its discovery document at
    # <issuer>/.well-known/openid-configuration) and this service's client registration.
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    # Reverse proxies in front of the issuer that set X-Forwarded-For (issuer.limits).
    "TRUSTED_PROXIES": 0,
}


def load(overrides: Mapping | None = None) -> flask.Config:
    """The settings without an app: for the command line and scripts."""
    config = flask.Config(os.getcwd())
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env(ENV_PREFIX)
    if overrides is not None:
        config.from_mapping(overrides)
    return resolve(config)


def resolve(config: MutableMapping) -> MutableMapping:
    """Fill in what derives from other settings; read secrets from their files if present.

    A missing secret stays None: ``vexe init`` creates it, and whatever needs it says so.
    """
    # from_prefixed_env parses values as JSON, so a value that looks like a number arrives
    # as one; every setting but the lifetime is text.
    data_dir = Path(str(config["DATA_DIR"])).resolve()
    config["DATA_DIR"] = str(data_dir)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'vexe.db'}"
    config["DATABASE_URL"] = str(config["DATABASE_URL"])
    config["REDIS_URL"] = str(config["REDIS_URL"])
    config["CREDENTIAL_LIFETIME"] = _lifetime(config["CREDENTIAL_LIFETIME"])
    config["SALES_OPEN_DAY"] = _sales_open_day(config["SALES_OPEN_DAY"])
    for name in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        config[name] = str(config[name]) if config.get(name) else None
    keyring.resolve(config, data_dir)
    if config.get("OPERATOR_TOKEN"):
        config["OPERATOR_TOKEN"] = str(config["OPERATOR_TOKEN"])
    else:
        config["OPERATOR_TOKEN"] = read_secret_file(data_dir / OPERATOR_TOKEN_FILE)
    return config


def _lifetime(value) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if not 60 <= seconds <= 31 * 24 * 3600:
        raise NotReady(f"CREDENTIAL_LIFETIME must be seconds, 60 to 2678400, got {value!r}")
    return seconds


def _sales_open_day(value) -> int:
    try:
        day = int(value)
    except (TypeError, ValueError):
        day = 0
    if not 1 <= day <= 28:  # every month has the day
        raise NotReady(f"SALES_OPEN_DAY must be a day of the month, 1 to 28, got {value!r}")
    return day


def read_secret_file(path: Path) -> str | None:
    """The secret in ``path``, None if there is no such file; NotReady if others may read or
    change it: a secret that was readable by every account on the host is no secret."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as file:
        mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise NotReady(f"{path} can be read or changed by other users (mode {mode:o}); "
                           f"run chmod 600 {path}, and replace the secret if others had it")
        return file.read().decode("ascii").strip() or None


def write_secret_file(path: Path, value: str) -> bool:
    """Create ``path`` readable by its owner only; False (and no change) if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value + "\n")
    return True
