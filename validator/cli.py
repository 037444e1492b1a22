"""The validator's commands: ``vexe validator run`` on the bus, ``vexe validate`` for one QR.

Errors reach the operator as one line ``vexe: ...`` on standard error, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import sqlite3
import sys
import threading
from pathlib import Path

import click
import redis

from shared import clock
from shared.denylist import Denylist
from shared.keys import TrustList
from shared.redis_keys import DENYLIST, TRUST_LIST
from validator.check import DEFAULT_FRESHNESS, DEFAULT_PASSBACK, check
from validator.sync import SOCKET_TIMEOUT, Syncer, connect

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATA_DIR = "var"
DEFAULT_HTTP_PORT = 8090
# The id names a directory and the Redis high-water mark "<id>/<epoch>": no slashes.
VALIDATOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

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


@validator_group.command("run")
@click.option("--id", "validator_id", required=True, help="This validator's id.")
@click.option("--vehicle", required=True, help="The vehicle it is fitted to.")
@click.option("--route", required=True, help="The route the vehicle runs now.")
@click.option("--stop", default=None, help="The current stop, if known.")
@click.option("--data-dir", envvar="VEXE_DATA_DIR", default=DEFAULT_DATA_DIR, show_default=True,
              show_envvar=True,
              help="Data directory; this validator keeps its files in validator-<id>/ in it.")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, show_envvar=True)
@click.option("--http-port", type=click.IntRange(0, 65535), default=DEFAULT_HTTP_PORT,
              show_default=True, help="Port for POST /scan and GET /status; 0 = no HTTP.")
@click.option("--http-host", default="127.0.0.1", show_default=True)
@click.option("--freshness", type=click.IntRange(1), default=DEFAULT_FRESHNESS, show_default=True,
              help="Seconds a QR's proof stays good, either side of this clock.")
@click.option("--passback", type=click.IntRange(0), default=DEFAULT_PASSBACK, show_default=True,
              help="Seconds in which the same pass is refused again on this vehicle; 0 = off.")
@click.option("--no-stdin", is_flag=True, help="Don't read scans from standard input.")
def run(validator_id, vehicle, route, stop, data_dir, redis_url, http_port, http_host, freshness,
        passback, no_stdin) -> None:
    """Validate scans from a 2D scanner on standard input (one QR text a line) and HTTP.

    Prints one JSON decision a line. Ends on Ctrl-C, SIGTERM, or the end of standard
    input when HTTP is off, after a last attempt to push the journal to Redis.
    """
    from werkzeug.serving import make_server

    from validator.device import Validator
    from validator.http import create_app

    if not VALIDATOR_ID.fullmatch(validator_id):
        raise Failure(f"validator id {validator_id!r} must be letters, digits, '.', '_' or '-'")
    if no_stdin and not http_port:
        raise Failure("with --no-stdin and --http-port 0 there is nothing to read scans from")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    home = Path(data_dir) / f"validator-{validator_id}"
    try:
        client = connect(redis_url)
    except ValueError as exc:
        raise Failure(f"bad --redis-url: {exc}") from None
    try:
        device = Validator(validator_id=validator_id, vehicle=vehicle, route=route, stop=stop,
                           data_dir=home, freshness=freshness, passback=passback)
    except (OSError, sqlite3.Error) as exc:
        client.close()
        reason = getattr(exc, "strerror", None) or exc
        raise Failure(f"cannot use data directory {home}: {reason}") from None
    syncer = Syncer(device.journal, device.lists, client, validator_id=validator_id)
    stopping = threading.Event()
    sync_thread = threading.Thread(target=syncer.run, args=(stopping,), name="sync", daemon=True)
    server = None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if http_port:
            # Bind here: werkzeug reports a port in use by printing and exiting by itself.
            try:
                listener = socket.create_server((http_host, http_port))
            except OSError as exc:
                raise Failure(f"cannot serve HTTP on {http_host}:{http_port}: "
                              f"{exc.strerror or exc}") from None
            with listener:
                server = make_server(http_host, http_port, create_app(device, syncer),
                                     threaded=True, fd=listener.fileno())
            threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        sync_thread.start()
        log.info("validator %s on vehicle %s, route %s: journal in %s, %d scans to push%s",
                 validator_id, vehicle, route, home, device.journal.backlog(),
                 f", HTTP on {http_host}:{server.port}" if server else "")
        if not len(device.lists.trust):
            log.warning("no trust list yet: every scan is refused as unknown_key until the "
                        "sync pulls one from Redis")
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if not no_stdin:
                read_scanner(device, sys.stdin.buffer, sys.stdout)
            if server is not None:
                while not stopping.wait(3600):
                    pass
        except KeyboardInterrupt:
            pass
    finally:
        # Once stopping, a second Ctrl-C must not cut the last push short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if server is not None:
            server.shutdown()
            server.server_close()
        stopping.set()
        if sync_thread.is_alive():
            sync_thread.join(timeout=4 * SOCKET_TIMEOUT)
        if not sync_thread.is_alive():
            log.info("stopped; %d scans not yet pushed", device.journal.backlog())
            device.close()
            client.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def read_scanner(device, stream, out) -> None:
    """Decide on each line of ``stream`` (bytes), print one JSON decision a line to ``out``.

    A scanner in keyboard mode types the QR text and Enter. Only the line ending is removed:
    the space is a base45 character, and a text is decided on exactly as it was read.
    Empty lines are not scans.
    """
    for raw in stream:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            continue
        scan = device.scan(text, clock.now())
        out.write(_json_line(scan.to_dict()) + "\n")
        out.flush()


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
