"""What tests of every part share: an issuer that signs real credentials, riders with their
own device keys, the trips a stream holds, a database of one's own, a free port, polling for
a condition, a private redis-server."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from backoffice import inbox
from issuer.platform import db, partitions
from shared import clock, keys, redis_functions, ticket
from shared.redis_keys import heartbeat, trips_stream
from shared.trip import Trip

ROUTE = "32"
PG_URL = os.environ.get("VEXE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Rider:
    """One pass on one phone: a credential and the device key that signs its proofs."""

    def __init__(self, credential: str, device):
        self.credential = credential
        self.device = device

    def qr(self, at: float) -> str:
        return ticket.encode_qr(self.credential, self.device, at)


class Issuer:
    """A signing key of the tests' own, and a trust list that holds it."""

    def __init__(self):
        self.signing_key = keys.new_signing_key()
        self.kid = keys.key_id(self.signing_key)
        self.trust = keys.TrustList([keys.TrustedKey(self.kid, self.signing_key.public_key())])
        self._ids = itertools.count(1)

    def rider(self, *, now: float, pass_id: str | None = None, product: str = "S",
              routes: tuple[str, ...] = (ROUTE,), category: str | None = None,
              month: tuple[int, int] | None = None) -> Rider:
        """A rider with a new phone and a pass for ``month`` (default: the month of ``now``)."""
        n = next(self._ids)
        device = keys.new_device_key()
        valid_from, valid_until = clock.month_bounds(*(month or clock.hanoi_month(now)))
        credential = ticket.mint_credential(
            self.signing_key, jti=f"c{n}", pass_id=pass_id or f"PASS{n:04d}", product=product,
            routes=list(routes), valid_from=valid_from, valid_until=valid_until,
            device_key=keys.device_public_compressed(device), now=int(now), category=category)
        return Rider(credential, device)


def stream_trips(client: redis.Redis, shard: str | None = None) -> list[Trip]:
    """Every trip in a trips stream, in stream order, once the inboxes are moved into it
    as the ingest moves them."""
    inbox.move(client, shard)
    return [Trip.from_json(fields[b"trip"]) for _, fields in client.xrange(trips_stream(shard))]


def beat_of(client: redis.Redis, validator_id: str, shard: str | None = None) -> dict | None:
    """A validator's heartbeat as written: its JSON, and "at", the time of its entry's id."""
    entries = client.xrevrange(heartbeat(validator_id, shard), count=1)
    if not entries:
        return None
    [(entry_id, fields)] = entries
    return {"at": int(entry_id.split(b"-")[0]) / 1000, **json.loads(fields[b"beat"])}


def put_beat(client: redis.Redis, validator_id: str, value: str | bytes, at: float) -> None:
    """A heartbeat entry dated ``at`` (the console tests' beats, as if written then)."""
    client.xadd(heartbeat(validator_id), {"beat": value}, id=f"{int(at * 1000)}-1")


@contextlib.contextmanager
def scratch_database(kind: str, workdir: Path):
    """The URL of a database of one's own: a SQLite file in ``workdir``, or a fresh schema in
    PostgreSQL's database ``test`` (``VEXE_TEST_PG_URL``), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{Path(workdir) / 'vexe.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


class SchemaTemplates:
    """Scratch databases brought to the newest revision from a copy of one that ran the
    migrations once per process and calendar month, instead of running them again for each
    test (a second or two each, and most tests start on a migrated database).

    SQLite: the template's file is copied. PostgreSQL: the template schema, as ``pg_dump``
    writes it (tables, keys, indexes, the trips' partitions, the rows the migrations put in),
    is replayed into the test's empty schema in one transaction (with no ``pg_dump`` on the
    PATH, the migrations run as before). Either way the test gets what ``db.migrate`` would
    have left it; tests/issuer/test_init.py and tests/ridership/test_partitions.py still run
    the migrations themselves. Keyed by the month: migration 0008 makes the trips'
    partitions of the current and the next month."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.files: dict[tuple[int, int], Path] = {}
        self.dumps: dict[tuple[int, int], str] = {}

    def migrate(self, url: str) -> None:
        """``db.migrate(url)``; by a copy for a scratch database not migrated yet (a SQLite
        file not made yet, or a schema named in the URL's search_path, with no revision)."""
        month = partitions.month_of(int(clock.now() * 1000))
        parsed = sa.make_url(url)
        schema = re.fullmatch(r"-csearch_path=(\w+)", parsed.query.get("options", ""))
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database).exists():
            shutil.copy(self._sqlite(month), parsed.database)  # with its mode, 0600
        elif parsed.get_backend_name() == "postgresql" and schema and shutil.which("pg_dump") \
                and db.current_revision(url) is None:
            ddl = self._postgresql(month).replace(f"{_TEMPLATE}.", f"{schema.group(1)}.")
            # psycopg runs several statements at once when given no parameters.
            connection = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool).raw_connection()
            try:
                connection.cursor().execute(ddl)
                connection.commit()
            finally:
                connection.close()
        else:
            db.migrate(url)

    def _sqlite(self, month: tuple[int, int]) -> Path:
        if month not in self.files:
            path = self.workdir / f"template-{month[0]}-{month[1]:02d}.db"
            db.migrate(f"sqlite:///{path}")
            db.dispose(f"sqlite:///{path}")
            self.files[month] = path
        return self.files[month]

    def _postgresql(self, month: tuple[int, int]) -> str:
        """The migrated template schema as SQL whose every name is ``_TEMPLATE.name``."""
        if month not in self.dumps:
            with scratch_database("postgresql", self.workdir) as url:
                db.migrate(url)
                db.dispose(url)
                name = re.search(r"search_path%3D(\w+)", url).group(1)
                dump = subprocess.run(
                    ["pg_dump", "--schema", name, "--inserts", "--no-owner", "--no-privileges",
                     "--dbname", sa.make_url(PG_URL).set(drivername="postgresql")
                     .render_as_string(hide_password=False)],
                    capture_output=True, text=True, check=True).stdout
            # Comments, psql's own commands (\restrict) and the schema, which the test made.
            self.dumps[month] = "\n".join(
                line.replace(f"{name}.", f"{_TEMPLATE}.") for line in dump.splitlines()
                if not line.startswith(("--", "\\", "CREATE SCHEMA ")))
        return self.dumps[month]


_TEMPLATE = "vexe_template_schema"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 30.0, interval: float = 0.02,
             what: str = "condition"):
    """Poll ``condition`` until it is true and return its value, or AssertionError. The
    timeout only keeps a broken run from hanging; nothing is claimed about how long it takes."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met in {timeout:.0f} s")
        time.sleep(interval)
    return value


class RedisServer:
    """A private redis-server process that a test can stop, kill and start again on one port,
    with the functions validators call loaded at each start, as the operator loads them.

    ``durable``: it writes every command to its append-only file before answering
    (appendfsync always), so a SIGKILL loses nothing it acknowledged, as a production Redis
    set up for trips must not."""

    def __init__(self, workdir, port: int | None = None, *, durable: bool = False,
                 extra: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        persistence = ("--appendonly", "yes", "--appendfsync", "always") if durable \
            else ("--appendonly", "no")
        self.args = ("--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     *persistence, "--dir", str(self.workdir), *extra)
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen([binary, *self.args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            wait_for(lambda: pings(client), timeout=20, what="redis-server start")
            redis_functions.load(client)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:  # refused, or still loading its append-only file
        return False


# The machine's Chromium, as the browser tests start it (no network of its own, no sync).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
