"""Settings: every setting the issuer, its command line and the ingest read, in one table,
read once, typed and checked, with a one-line error naming the variable.

Order, later wins: each setting's default, its ``VEXE_<NAME>`` environment variable (text,
never parsed as JSON: a secret that looks like a number stays text; an empty variable counts
as unset), then the caller's overrides (a test's config). The secret keys (issuer.platform.keyring)
may also live in files under ``DATA_DIR`` that ``vexe init`` creates, so a laptop needs no
environment at all. The web app and the command line both call :func:`load`, so ``vexe pass issue`` sees exactly
what the server sees. docs/operations.md ("Settings") is the table for people.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from issuer.platform import keyring
from issuer.platform.errors import NotReady
from shared.i18n import N_
from shared.ticket import DEFAULT_CREDENTIAL_LIFETIME, DEFAULT_FRESHNESS, DEFAULT_ROTATION

ENV_PREFIX = "VEXE_"
OPERATOR_TOKEN_FILE = "operator.token"
# A proof shown for a whole rotation period must still be fresh at its end, with room for
# the clocks and the scan: the period can't come near the validators' freshness window.
MAX_ROTATION = DEFAULT_FRESHNESS - 15


@dataclass(frozen=True)
class Setting:
    name: str  # the environment variable is ENV_PREFIX + name
    parse: Callable[[str, object], object]  # (name, value) -> the typed value, or NotReady
    default: object  # None: unset (what it means is said where it is used)

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name


# -- the types ------------------------------------------------------------------------------

def text(_name: str, value) -> str:
    return str(value)


def directory(_name: str, value) -> str:
    """Absolute from here on: a relative one is taken from the directory the process started
    in, once, and the start-up line says which it became."""
    return str(Path(str(value)).expanduser().resolve())


def database_url(name: str, value) -> str:
    try:
        sa.make_url(str(value))
    except sa.exc.ArgumentError:
        raise NotReady(N_("%(name)s must be a database URL such as "
                          "postgresql+psycopg://USER@HOST/DB, got %(got)s"),
                       name=ENV_PREFIX + name, got=_shown(value)) from None
    return str(value)


def redis_url(name: str, value) -> str:
    if urlsplit(str(value)).scheme not in ("redis", "rediss", "unix", "redis+cluster"):
        raise NotReady(N_("%(name)s must be a Redis URL such as redis://HOST:6379/0, got %(got)s"),
                       name=ENV_PREFIX + name, got=_shown(value))
    return str(value)


def flag(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise NotReady(N_("%(name)s must be true or false, got %(got)s"), name=ENV_PREFIX + name,
                   got=repr(value))


def choice(*values: str) -> Callable[[str, object], str]:
    """One of ``values``, in any case (shared.logs reads the logging settings the same way)."""
    def parse(name: str, value) -> str:
        word = str(value).strip().lower()
        if word not in (v.lower() for v in values):
            raise NotReady(N_("%(name)s must be one of %(values)s, got %(got)s"),
                           name=ENV_PREFIX + name, values=", ".join(values), got=repr(value))
        return word
    return parse


def integer(low: int, high: int, unit: str) -> Callable[[str, object], int]:
    def parse(name: str, value) -> int:
        return _bounded(name, value, int, low, high, unit)
    return parse


def number(low: float, high: float, unit: str) -> Callable[[str, object], float]:
    def parse(name: str, value) -> float:
        return _bounded(name, value, float, low, high, unit)
    return parse


def _bounded(name: str, value, kind: type, low, high, unit: str):
    try:
        if isinstance(value, bool):
            raise ValueError  # True is 1 to Python, not to an operator
        parsed = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed != parsed or not low <= parsed <= high:  # NaN too
        raise NotReady(N_("%(name)s must be %(unit)s, %(low)s to %(high)s, got %(got)s"),
                       name=ENV_PREFIX + name, unit=unit, low=_plain(low), high=_plain(high),
                       got=repr(value))
    return parsed


def _plain(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def _shown(value) -> str:
    """A refused URL, its password hidden: error lines go to logs."""
    parts = urlsplit(str(value))
    if parts.password:
        return repr(str(value).replace(parts.password, "***"))
    return repr(str(value))


SETTINGS = (
    Setting("DATA_DIR", directory, "var"),
    Setting("DATABASE_URL", database_url, None),  # sqlite:///<DATA_DIR>/vexe.db
    Setting("REDIS_URL", redis_url, "redis://127.0.0.1:6379/0"),
    # The three secret keys (issuer.platform.keyring); else <DATA_DIR>/sealing.key, national-id.key,
    # cookie.key. Flask's SECRET_KEY is set from the cookie key.
    Setting("SEALING_KEY", text, None),
    Setting("NATIONAL_ID_KEY", text, None),
    Setting("COOKIE_KEY", text, None),
    # An older installation's one secret key, split into the three on the first start.
    Setting("SECRET_KEY", text, None),
    # The bootstrap operator's token, which `vexe init` registers (a token like any other,
    # revocable); else <DATA_DIR>/operator.token. The server itself never compares with it.
    Setting("OPERATOR_TOKEN", text, None),
    Setting("CREDENTIAL_LIFETIME", integer(60, 31 * 24 * 3600, "seconds"),
            DEFAULT_CREDENTIAL_LIFETIME),
    # Sales of next month's passes open on this day of the month, Hanoi time; every month
    # has the day.
    Setting("SALES_OPEN_DAY", integer(1, 28, "a day of the month"), 20),
    Setting("CARD_ROTATION", integer(1, MAX_ROTATION, "seconds"), DEFAULT_ROTATION),
    # The national e-ID's OpenID Connect provider and this service's registration there.
    Setting("OIDC_ISSUER", text, None),
    Setting("OIDC_CLIENT_ID", text, None),
    Setting("OIDC_CLIENT_SECRET", text, None),
    Setting("SESSION_COOKIE_SECURE", flag, False),
    # Reverse proxies in front of the issuer that set X-Forwarded-For (issuer.web.limits).
    Setting("TRUSTED_PROXIES", integer(0, 10, "a number of proxies"), 0),
    # The ingest's (backoffice.cli), which its options override.
    Setting("INGEST_RETAIN_MINUTES", number(0, 7 * 24 * 60, "minutes"), 60),
    Setting("INGEST_MAX_AGE_DAYS", number(1, 3660, "days"), 35),
    # Entries a validator's inbox may hold before the ingest switches the validator off
    # (backoffice.inbox.QUOTA says why 20,000).
    Setting("INGEST_INBOX_QUOTA", integer(1000, 10_000_000, "entries"), 20_000),
    # Every process's logs (shared.logs): JSON lines, or text (unset: text on a terminal).
    Setting("LOG_FORMAT", choice("json", "text"), None),
    Setting("LOG_LEVEL", choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO"),
    # Trips older than this lose their pass id (`vexe trips prune`); 0 keeps everything.
    Setting("TRIPS_RETENTION_DAYS", integer(0, 36_500, "days"), 0),
    # An order not paid within this many minutes expires; money for it afterwards is held
    # for a clerk (issuer.sales.settlement).
    Setting("ORDER_EXPIRY_MINUTES", integer(5, 7 * 24 * 60, "minutes"), 60),
    # The card and e-wallet gateway (VNPay's 2.1 protocol, issuer.sales.gateway): its payment
    # URL, this merchant's terminal code and the hash secret it signs with. Unset: no card
    # payments offered.
    Setting("GATEWAY_URL", text, None),
    Setting("GATEWAY_TMN_CODE", text, None),
    Setting("GATEWAY_HASH_SECRET", text, None),
    # The operator's bank account riders transfer to by VietQR (issuer.sales.bank): the
    # bank's NAPAS BIN, the account number and its holder's name; and the secret the
    # bank-statement notification service signs its webhook with. Unset: no VietQR offered.
    Setting("BANK_BIN", text, None),
    Setting("BANK_ACCOUNT", text, None),
    Setting("BANK_ACCOUNT_NAME", text, None),
    Setting("BANK_WEBHOOK_SECRET", text, None),
    # Who sells, as receipts say it (issuer.rider.payments): the seller's name, tax code and
    # address, and the VAT rate included in the prices, in percent.
    Setting("SELLER_NAME", text, "Trung tâm Quản lý và Điều hành Giao thông đô thị Hà Nội"),
    Setting("SELLER_TAX_CODE", text, None),
    Setting("SELLER_ADDRESS", text, None),
    Setting("VAT_PERCENT", number(0, 100, "percent"), 0),
    # The operator's telephone line for riders, shown wherever a page tells them to call
    # (the rider's pages, the card). Empty: no number is shown.
    Setting("HOTLINE", text, ""),
    # Reminders to renew (issuer.sales.reminders): shown on the account page and e-mailed in
    # a pass's last REMINDER_DAYS days when next month is not held; the e-mail links to
    # PUBLIC_URL (the issuer's address as riders reach it).
    Setting("REMINDER_DAYS", integer(1, 28, "days"), 5),
    Setting("PUBLIC_URL", text, "http://127.0.0.1:8000"),
    # The mail server reminders go through; unset SMTP_HOST: none are e-mailed.
    Setting("SMTP_HOST", text, None),
    Setting("SMTP_PORT", integer(1, 65535, "a port"), 587),
    Setting("SMTP_USER", text, None),
    Setting("SMTP_PASSWORD", text, None),
    Setting("SMTP_FROM", text, "vexe@localhost"),
    Setting("SMTP_STARTTLS", flag, True),
)


def load(overrides: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Every setting, typed and checked; NotReady names the first one that is wrong."""
    overrides = {} if overrides is None else overrides
    environ = os.environ if environ is None else environ
    config = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            value = overrides[setting.name]
        else:
            value = environ.get(setting.variable) or setting.default
        unset = value is None and setting.default is None
        config[setting.name] = None if unset else setting.parse(setting.name, value)
    return _derive(config)


def _derive(config: dict) -> dict:
    """What follows from other settings: the default database, the secrets' files.

    A missing secret stays None: ``vexe init`` creates it, and whatever needs it says so.
    """
    data_dir = Path(config["DATA_DIR"])
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'vexe.db'}"
    keyring.resolve(config, data_dir)
    if not config["OPERATOR_TOKEN"]:
        config["OPERATOR_TOKEN"] = read_secret_file(data_dir / OPERATOR_TOKEN_FILE)
    return config


def start_line(config: Mapping) -> str:
    """What a starting issuer or ingest worker says it runs on, passwords hidden: a relative
    data directory shows here as the absolute one it became."""
    database = sa.make_url(config["DATABASE_URL"]).render_as_string(hide_password=True)
    return (f"data directory {config['DATA_DIR']}, database {database}, "
            f"Redis {_shown(config['REDIS_URL'])[1:-1]}")


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
            raise NotReady(N_("%(path)s can be read or changed by other users (mode %(mode)s); "
                              "run chmod 600 %(path)s, and replace the secret if others had it"),
                           path=str(path), mode=f"{mode:o}")
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
