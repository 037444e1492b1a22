"""Database access: one engine per URL, sessions, and the migrations.

Services take a :class:`~sqlalchemy.orm.Session`. What an operator may do, they only flush:
the caller commits it with its audit entry, in one transaction (:func:`issuer.platform.audit.action`);
a rider's request commits what it did. The web app keeps one session per request (closed on
teardown); the command line opens one per command with :func:`session`.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.orm import Session

from issuer.platform.errors import NotReady
from shared.i18n import N_

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic says "Context impl PostgresqlImpl." at INFO each time the revision is looked at,
# which /readyz does every few seconds: only its warnings reach the logs.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

_engines: dict[str, sa.Engine] = {}
_autocommit: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()  # the server runs requests in threads


def engine(url: str) -> sa.Engine:
    with _engines_lock:
        if url not in _engines:
            eng = sa.create_engine(url, pool_pre_ping=not _is_postgresql(url))
            if eng.dialect.name == "postgresql":
                sa.event.listen(eng.pool, "checkout", _check_socket)
            if eng.dialect.name == "sqlite":
                _create_private(eng.url.database)
                # SQLite enforces foreign keys only when asked, per connection.
                sa.event.listen(eng, "connect", _sqlite_foreign_keys)
            _engines[url] = eng
        return _engines[url]


def autocommit_engine(url: str) -> sa.Engine:
    """An engine whose connections commit each statement on its own, with no pre-ping: for
    work done in one statement (a credential refresh), where ``BEGIN``, ``COMMIT`` and a
    ``SELECT 1`` before it would be three round trips more than the work. A connection the
    server dropped is found by the statement itself: :func:`retry_dropped` runs it again on
    a new connection, once."""
    with _engines_lock:
        if url not in _autocommit:
            eng = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
            if eng.dialect.name == "postgresql":
                sa.event.listen(eng.pool, "checkout", _check_socket)
            _autocommit[url] = eng
        return _autocommit[url]


def _is_postgresql(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "postgresql"


def _check_socket(dbapi_connection, _record, _proxy) -> None:
    """The pre-ping without a round trip: an idle pooled connection has nothing to read, so
    one whose socket is readable was closed by the server (a restart, an idle connection
    cut, pg_terminate_backend: PostgreSQL says why, then closes). SQLAlchemy then takes
    another connection. A connection cut with no word (a cable pulled) is still found by
    the statement that fails on it: retry_dropped sends that once more."""
    try:
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except Exception:  # noqa: BLE001 (psycopg: "the connection is closed"; a bad descriptor)
        raise sa.exc.DisconnectionError("the connection is closed") from None
    if readable:
        raise sa.exc.DisconnectionError("the server closed the connection")


def retry_dropped(url: str, work):
    """``work(connection)`` on an autocommit connection; once more on a new connection if the
    first was dropped (the server restarted, an idle connection was cut). Only for work that
    may be done twice: a statement that failed on a dead socket did nothing, but one whose
    answer was lost might have been done."""
    eng = autocommit_engine(url)
    for attempt in (1, 2):
        try:
            with eng.connect() as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:
            # SQLAlchemy has invalidated the pool's connections older than this one already.
            if attempt == 2 or not exc.connection_invalidated:
                raise


def _create_private(path: str | None) -> None:
    """Create a SQLite database file readable by its owner only, before SQLite would create
    it with the umask's mode (0644: accounts and sealed keys readable by every user). SQLite
    gives its journal, -wal and -shm files the database file's own mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):
        pass  # there already, or no directory: SQLite says so at the first connection


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def dispose(url: str | None = None) -> None:
    """Close pooled connections (of one URL, or all): tests drop their databases after."""
    with _engines_lock:
        for engines in (_engines, _autocommit):
            for key in [url] if url else list(engines):
                eng = engines.pop(key, None)
                if eng is not None:
                    eng.dispose()


@contextmanager
def session(url: str) -> Iterator[Session]:
    # expire_on_commit=False: services return rows that callers read after the commit.
    with Session(engine(url), expire_on_commit=False) as s:
        yield s


# -- the web app: a session per request -----------------------------------------------------

def get_session() -> Session:
    if "db" not in flask.g:
        flask.g.db = Session(engine(flask.current_app.config["DATABASE_URL"]),
                             expire_on_commit=False)
    return flask.g.db


def close_session(_exc: BaseException | None = None) -> None:
    s = flask.g.pop("db", None)
    if s is not None:
        s.close()


def init_app(app: flask.Flask) -> None:
    app.teardown_appcontext(close_session)


# -- migrations -----------------------------------------------------------------------------

def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an option: ini interpolation would mangle "%" in URLs.
    config.attributes["url"] = url
    return config


def current_revision(url: str) -> str | None:
    with engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache  # the files don't change under a running process; /readyz asks often
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def migrate(url: str) -> bool:
    """Bring the schema to the newest revision; True if anything was applied."""
    if current_revision(url) == head_revision():
        return False
    command.upgrade(alembic_config(url), "head")
    return True


def schema_status(url: str) -> dict:
    """Where the database's schema stands against this version's newest revision."""
    current, head = current_revision(url), head_revision()
    return {"database": sa.make_url(url).render_as_string(hide_password=True),
            "current": current, "head": head, "up_to_date": current == head}


def schema_problem(status: dict) -> str | None:
    """Why a database at ``status`` can't be used by this version, and the command that
    fixes it; None when it is at the head."""
    current, head = status["current"], status["head"]
    if current == head:
        return None
    if current is None:
        return f"the database {status['database']} is not set up: run `vexe init`"
    if not known_revision(current):  # made by a newer version: upgrading would not help
        return (f"the database is at revision {current}, which this version of vexe does "
                f"not know (its newest is {head}): run the version that upgraded it")
    return (f"the database is at revision {current}, this version needs {head}: "
            f"run `vexe db upgrade`")


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations."""
    try:
        return ScriptDirectory.from_config(alembic_config("")).get_revision(revision) is not None
    except CommandError:
        return False


def refuse_unless_at_head(url: str) -> None:
    """For a starting server or worker: NotReady, one line, unless the schema is at the head.

    A database server that does not answer is not refused here: the issuer starts and
    answers 503 until it is back (a worker restarted during a database outage must not bring
    the server down), and /readyz says so. A SQLite file that can't be opened is no outage:
    it is a data directory that is not there, or not this one.
    """
    try:
        status = schema_status(url)
    except sa.exc.OperationalError as exc:
        if sa.make_url(url).get_backend_name() != "sqlite":
            return
        line = str(exc.orig).strip().splitlines()[0]
        raise NotReady(N_("the database %(database)s can't be opened (%(problem)s): "
                          "run `vexe init`"),
                       database=sa.make_url(url).render_as_string(hide_password=True),
                       problem=line) from None
    problem = schema_problem(status)
    if problem:
        raise NotReady(problem)
