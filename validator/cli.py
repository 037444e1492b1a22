"""The validator's commands: ``vexe validator run`` on the bus, ``vexe validate`` for one QR.

Errors reach the operator as one line ``vexe: ...`` on standard error, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

import click
import redis

from shared import clock, logs
from shared.denylist import Denylist
from shared.keys import TrustList
from shared.redis_keys import DENYLIST, TRUST_LIST
from shared.trip import BOARD
from validator.check import DEFAULT_FRESHNESS, DEFAULT_PASSBACK, check
from validator.config import DEFAULT_DATA_DIR, DEFAULT_HTTP_PORT, DEFAULT_REDIS_URL, VALIDATOR_ID
from validator.device import MODES
from validator.sync import connect

log = logging.getLogger("validator")


class Failure(click.ClickException):
    """A usage error: one line on standard error and exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"vexe: {self.format_message()}", err=True)


def _json_line(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# -- vexe validator run --------------------------------------------------------------------

@click.group("validator")
def validator_group() -> None:
    """The validator on a bus."""


# Command-line flags and the settings they set; a flag given on the command line wins over
# the configuration file, so a technician can try another port without editing it.
_FLAG_SETTINGS = {"validator_id": "validator_id", "vehicle": "vehicle", "route": "route",
                  "stop": "stop", "data_dir": "data_dir", "redis_url": "redis_url",
                  "http_port": "http_port", "http_host": "http_host", "freshness": "freshness",
                  "passback": "passback", "mode": "mode", "camera": "camera", "gps": "gps"}


@validator_group.command("run")
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="The configuration file (TOML); see validator/config.py. Flags given "
                   "here override it.")
@click.option("--id", "validator_id", default=None, help="This validator's id.")
@click.option("--vehicle", default=None, help="The vehicle it is fitted to.")
@click.option("--route", default=None, help="The route the vehicle runs now.")
@click.option("--stop", default=None, help="The current stop, if known.")
@click.option("--mode", type=click.Choice(MODES), default=BOARD, show_default=True,
              help="Boarding (front door) or alighting; POST /mode changes it.")
@click.option("--data-dir", envvar="VEXE_DATA_DIR", default=DEFAULT_DATA_DIR, show_default=True,
              show_envvar=True,
              help="Data directory; this validator keeps its files in validator-<id>/ in it.")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True)
@click.option("--http-port", type=click.IntRange(0, 65535), default=DEFAULT_HTTP_PORT,
              show_default=True, help="Port for the kiosk page, POST /scan and GET /status; "
                                      "0 = no HTTP.")
@click.option("--http-host", default="127.0.0.1", show_default=True)
@click.option("--freshness", type=click.IntRange(1), default=DEFAULT_FRESHNESS, show_default=True,
              help="Seconds a QR's proof stays good, either side of this clock.")
@click.option("--passback", type=click.IntRange(0), default=DEFAULT_PASSBACK, show_default=True,
              help="Seconds in which the same pass is refused again on this vehicle; 0 = off.")
@click.option("--camera", default=None, metavar="PATH",
              help="Raw grey camera frames (a FIFO); size and region in the config file.")
@click.option("--gps", default=None, metavar="SOURCE",
              help="Take the stop from a GPS: nmea:/dev/ttyUSB0 (a serial NMEA receiver) or "
                   "gpsd://127.0.0.1:2947; the route's stops come from Redis.")
@click.option("--no-stdin", is_flag=True, help="Don't read scans from standard input.")
@click.pass_context
def run(ctx, config_file, no_stdin, **flags) -> None:
    """Validate scans from a 2D scanner on standard input (one QR text a line), a camera, and
    HTTP, and show them on the kiosk page.

    Prints one JSON decision a line. Ends on Ctrl-C, SIGTERM, or the end of standard
    input when HTTP is off, after a last attempt to push the journal to Redis.
    """
    from validator import config as configuration
    from validator import service

    given = {name for name in flags
             if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    if flags["validator_id"] is not None and not VALIDATOR_ID.fullmatch(flags["validator_id"]):
        raise Failure(f"validator id {flags['validator_id']!r} must be letters, digits, '.', "
                      "'_' or '-'")
    try:
        if config_file is not None:
            config = configuration.load(config_file)
            changes = {_FLAG_SETTINGS[name]: flags[name] for name in given}
        else:
            missing = [f"--{name.replace('validator_id', 'id')}"
                       for name in ("validator_id", "vehicle", "route") if flags[name] is None]
            if missing:
                raise Failure(f"{' and '.join(missing)} required, or --config FILE")
            settings = {_FLAG_SETTINGS[name]: value for name, value in flags.items()}
            settings["data_dir"] = Path(settings["data_dir"])
            config = configuration.Config(
                **settings, redis_password=os.environ.get(configuration.PASSWORD_ENV) or None)
            changes = {}
        if no_stdin:
            changes["scanner"] = "none"
        if "data_dir" in changes:
            changes["data_dir"] = Path(changes["data_dir"])
        if changes:
            config = config.with_changes(**changes)
    except configuration.ConfigError as exc:
        raise Failure(str(exc)) from None
    if config.scanner == "none" and not config.http_port and config.camera is None:
        raise Failure("with --no-stdin and --http-port 0 there is nothing to read scans from")
    try:
        logs.setup(validator_id=config.validator_id)
    except logs.SettingError as exc:
        raise Failure(str(exc)) from None
    try:
        service.run(config)
    except service.StartError as exc:
        raise Failure(str(exc)) from None


def read_scanner(device, stream, out) -> None:
    """Decide on each line of ``stream``; see validator.service.read_scanner."""
    from validator.service import read_scanner as read

    read(device, stream, out)


# -- vexe validator journal ----------------------------------------------------------------

@validator_group.group("journal")
def journal_group() -> None:
    """A validator's journal, the validator stopped."""


@journal_group.command("repair")
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="The validator's configuration file: its id and data directory.")
@click.option("--id", "validator_id", default=None, help="The validator's id.")
@click.option("--data-dir", envvar="VEXE_DATA_DIR", default=DEFAULT_DATA_DIR, show_default=True,
              show_envvar=True, help="The data directory given to vexe validator run.")
def journal_repair(config_file, validator_id, data_dir) -> None:
    """Make a damaged journal usable again, keeping the damaged file for audit.

    The first that works: a journal that lost the end of its WAL gets a new epoch; a damaged
    index is rebuilt (REINDEX); the readable tables are copied into a new file; else the file
    is moved aside and the validator starts a new one. Prints what was done as JSON.
    """
    from validator import config as configuration
    from validator.device import JOURNAL_FILE, DataDirInUse, lock_data_dir
    from validator.journal import JournalDamaged, repair

    if config_file is not None:
        try:
            home = configuration.load(config_file).home
        except configuration.ConfigError as exc:
            raise Failure(str(exc)) from None
    elif validator_id is None:
        raise Failure("--id required, or --config FILE")
    elif not VALIDATOR_ID.fullmatch(validator_id):
        raise Failure(f"validator id {validator_id!r} must be letters, digits, '.', '_' or '-'")
    else:
        home = Path(data_dir) / f"validator-{validator_id}"
    if not (home / JOURNAL_FILE).is_file():
        raise Failure(f"no journal in {home}")
    try:
        lock = lock_data_dir(home)
    except DataDirInUse as exc:
        raise Failure(f"{exc}: stop it first") from None
    try:
        done = repair(home / JOURNAL_FILE)
    except (OSError, sqlite3.Error, JournalDamaged) as exc:
        raise Failure(f"cannot repair {home / JOURNAL_FILE}: {exc}") from None
    finally:
        os.close(lock)
    click.echo(_json_line(done))


# -- vexe validator acl --------------------------------------------------------------------

@validator_group.group("acl")
def acl_group() -> None:
    """Each validator's own Redis user: it may add trips to its own inbox through the
    functions ``acl create`` loads, read the trust list, the denylist and the routes' stops,
    and nothing else (validator.sync.ACL_RULES)."""


@acl_group.command("create")
@click.argument("validator_id")
@click.option("--password-file", required=True, metavar="FILE",
              help="Where to write the new password: created readable by its owner only "
                   "(copy it to the validator's [redis] password_file).")
@click.option("--replace", is_flag=True,
              help="The user exists already: give it a new password and the rules again.")
@click.option("--shard", default=None,
              help="On a Redis Cluster (redis+cluster:// URL): the validator's shard, the only "
                   "trips stream it may add to.")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True,
              help="Redis as a user that may run ACL commands.")
def acl_create(validator_id, password_file, replace, shard, redis_url) -> None:
    """Create (or with --replace, reset) the Redis user VALIDATOR_ID with a new password."""
    from validator import acl

    if not VALIDATOR_ID.fullmatch(validator_id):
        raise Failure(f"validator id {validator_id!r} must be letters, digits, '.', '_' or '-'")
    try:
        created = acl.create(redis_url, validator_id, Path(password_file), replace=replace,
                             shard=shard)
    except (acl.AclError, ValueError) as exc:
        raise Failure(str(exc)) from None
    if not created.saved:
        click.echo(f"vexe: warning: Redis has no ACL file; the user {validator_id} is lost when "
                   "Redis restarts unless it is started with aclfile or CONFIG REWRITE is run",
                   err=True)
    click.echo(_json_line({"user": validator_id, "password_file": str(password_file),
                           "rules": created.rules, "saved": created.saved}))


@acl_group.command("update")
@click.argument("validator_ids", nargs=-1, required=True, metavar="VALIDATOR_ID...")
@click.option("--shard", default=None,
              help="On a Redis Cluster: the validators' shard (as given to acl create).")
@click.option("--on", "switch_on", is_flag=True,
              help="Switch the users on again, with the passwords they have: only after a "
                   "false alarm (the ingest switches off a validator that floods its inbox; "
                   "a stolen password wants acl create --replace).")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True,
              help="Redis as a user that may run ACL commands.")
def acl_update(validator_ids, shard, switch_on, redis_url) -> None:
    """Give existing users this version's rules (a user made by an earlier version can
    neither push nor beat, nor read the routes' stops, without them), each keeping its
    password; load the functions. One line of JSON per user; stops at the first that
    fails, those before it updated. A user switched off stays off, unless --on."""
    from validator import acl

    for validator_id in validator_ids:
        if not VALIDATOR_ID.fullmatch(validator_id):
            raise Failure(f"validator id {validator_id!r} must be letters, digits, '.', '_' "
                          "or '-'")
    for validator_id in validator_ids:
        try:
            updated = acl.update(redis_url, validator_id, shard=shard, switch_on=switch_on)
        except (acl.AclError, ValueError) as exc:
            raise Failure(f"{validator_id}: {exc}") from None
        click.echo(_json_line({"user": validator_id, "rules": updated.rules,
                               "saved": updated.saved}))


@acl_group.command("delete")
@click.argument("validator_id")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True)
def acl_delete(validator_id, redis_url) -> None:
    """Delete the Redis user of a validator taken out of service (its connections close)."""
    from validator import acl

    try:
        deleted = acl.delete(redis_url, validator_id)
    except acl.AclError as exc:
        raise Failure(str(exc)) from None
    click.echo(_json_line({"user": validator_id, "deleted": deleted}))


# -- vexe validate -------------------------------------------------------------------------

@click.command("validate")
@click.argument("qr_text")
@click.option("--route", required=True, help="The route the check is for.")
@click.option("--vehicle", default="-", help="The vehicle (only for the record).")
@click.option("--at", "at_text", default=None, help="Check at this Unix time instead of now.")
@click.option("--trust", "trust_file", default=None,
              help="Trust list (JWKS) file; default: the one in Redis.")
@click.option("--denylist", "denylist_file", default=None,
              help="Denylist file; default: the one in Redis, or none if Redis is away.")
@click.option("--freshness", type=click.IntRange(1), default=DEFAULT_FRESHNESS, show_default=True)
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True)
def validate(qr_text, route, vehicle, at_text, trust_file, denylist_file, freshness,
             redis_url) -> None:
    """Check one QR text as a validator would, without journal or anti-passback.

    Prints the decision as JSON. Exit status 0 accepted, 1 refused, 2 usage error.
    """
    now = _parse_at(at_text) if at_text is not None else clock.now()
    source = _RedisLists(redis_url)
    try:
        if trust_file is not None:
            trust = _parse(TrustList.from_jwks, _read(trust_file, "trust list"), "trust list",
                           trust_file)
        else:
            trust = source.trust()
        if denylist_file is not None:
            denylist = _parse(Denylist.loads, _read(denylist_file, "denylist"), "denylist",
                              denylist_file)
        else:
            denylist = source.denylist()
    finally:
        source.close()
    decision = check(qr_text, trust=trust, denylist=denylist, route=route, vehicle=vehicle,
                     now=now, history=None, freshness=freshness, passback=0)
    click.echo(_json_line(decision.to_dict()))
    sys.exit(0 if decision.accepted else 1)


def _parse_at(text: str) -> float:
    try:
        at = float(text)
    except ValueError:
        at = float("nan")
    if not 0 <= at < 2**40:  # also false for nan and inf
        raise Failure(f"--at must be a Unix time in seconds, got {text!r}")
    return at


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise Failure(f"cannot read {what} {path}: {reason}") from None


def _parse(parse, text: str, what: str, where: str):
    try:
        return parse(text)
    except ValueError as exc:
        raise Failure(f"bad {what} in {where}: {exc}") from None


class _RedisLists:
    """The trust list and denylist from Redis, for a check run by hand; connects lazily."""

    def __init__(self, url: str):
        self.url = url
        self._client: redis.Redis | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _get(self, key: str) -> bytes | None:
        if self._client is None:
            try:
                self._client = connect(self.url)
            except ValueError as exc:
                raise Failure(f"bad Redis URL {self.url!r}: {exc}") from None
        return self._client.get(key)

    def _where(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs if self._client else {}
        return f"Redis at {kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    def trust(self) -> TrustList:
        try:
            raw = self._get(TRUST_LIST)
        except redis.RedisError as exc:
            raise Failure(f"cannot read the trust list from {self._where()} ({exc}); "
                          "pass --trust JWKS_FILE") from None
        if raw is None:
            raise Failure(f"no trust list in {self._where()}; pass --trust JWKS_FILE")
        try:
            return TrustList.from_jwks(raw)
        except ValueError as exc:
            raise Failure(f"bad trust list in {self._where()}: {exc}; "
                          "pass --trust JWKS_FILE") from None

    def denylist(self) -> Denylist:
        try:
            raw = self._get(DENYLIST)
        except redis.RedisError as exc:
            click.echo(f"vexe: warning: cannot read the denylist from {self._where()} ({exc}); "
                       "checking without one", err=True)
            return Denylist.empty()
        if raw is None:
            return Denylist.empty()
        try:
            return Denylist.loads(raw)
        except ValueError as exc:
            click.echo(f"vexe: warning: bad denylist in {self._where()} ({exc}); "
                       "checking without one", err=True)
            return Denylist.empty()


commands = [validator_group, validate]
