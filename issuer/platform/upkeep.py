"""Keeping an installation alive: rotating its secret keys, backing it up and restoring it,
and forgetting whose trips are old enough (on PostgreSQL, dropping whole old months).

docs/operations.md says when to run each of these and in what order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from issuer.platform import db, keyring, partitions, settings, vault
from issuer.platform.errors import Invalid, NotReady
from shared.i18n import N_
from issuer.platform.models import DeviceBinding, SigningKey

ROTATABLE = {"sealing": keyring.SEALING, "cookies": keyring.COOKIE}
NATIONAL_ID_REFUSAL = N_(
    "the national-ID key is never rotated by a command: a new key matches none of the stored "
    "hashes and the numbers are not kept to hash again, so every rider would get a second "
    "account; docs/operations.md (Secrets) says how to replace it deliberately")


# -- secrets -------------------------------------------------------------------------------

def _key_file(config: Mapping, kind: str) -> tuple[Path, list[str]]:
    if kind not in ROTATABLE:
        if kind == "national-id":
            raise Invalid(NATIONAL_ID_REFUSAL)
        raise Invalid(N_("no key %(kind)s"), kind=repr(kind))
    path = Path(config["DATA_DIR"]) / keyring.FILES[ROTATABLE[kind]]
    found = settings.read_secret_file(path)
    if not found:
        raise NotReady(N_("%(path)s is missing: to rotate a key set in %(variable)s, "
                          "move it into that file first (docs/operations.md, Secrets)"),
                       path=str(path), variable=f"VEXE_{ROTATABLE[kind]}")
    return path, found.split()


def rotate(config: Mapping, kind: str) -> dict:
    """Put a new key first in the key's file; the old ones stay, to open and verify, until
    :func:`finish`. Issuers started before read the file again when reloaded."""
    path, keys = _key_file(config, kind)
    keyring.replace_secret_file(path, [keyring.new_key(ROTATABLE[kind]), *keys])
    return {"key": kind, "keys": len(keys) + 1,
            "next": f"reload every issuer (systemctl reload vexe-issuer), then run "
                    f"`vexe secret finish {kind}`"}


def finish(config: Mapping, kind: str) -> dict:
    """Drop every key but the first: for the sealing key, after sealing again everything the
    older keys sealed, and checking that the first key alone opens it all."""
    path, keys = _key_file(config, kind)
    resealed = reseal(config["DATABASE_URL"], keys) if kind == "sealing" else 0
    if len(keys) > 1:
        keyring.replace_secret_file(path, keys[:1])
    return {"key": kind, "dropped": len(keys) - 1, "resealed": resealed}


def reseal(url: str, keys: list[str]) -> int:
    """Seal every sealed private key again with ``keys[0]``; the number of keys resealed.

    Each row is written only if it still holds what was read, so a key a running issuer
    seals (or a phone rebound) meanwhile is never overwritten with an older one."""
    every, first, count = " ".join(keys), keys[0], 0
    with db.engine(url).begin() as conn:
        for table in (SigningKey.__table__, DeviceBinding.__table__):
            rows = conn.execute(sa.select(table.c.id, table.c.sealed_private_key)
                                .where(table.c.sealed_private_key.is_not(None))).all()
            for row_id, sealed in rows:
                fresh = vault.reseal(every, sealed)
                vault.unseal(first, fresh)  # the first key alone opens it, or nothing changes
                conn.execute(table.update().where(table.c.id == row_id,
                                                  table.c.sealed_private_key == sealed)
                             .values(sealed_private_key=fresh))
                count += 1
    return count


# -- backup and restore --------------------------------------------------------------------

MANIFEST = "manifest.json"
SQLITE_FILE, PG_FILE = "vexe.db", "vexe.pgdump"
# What a restore needs besides the database: the keys and the bootstrap operator's token.
SECRETS = {**keyring.FILES, "OPERATOR_TOKEN": settings.OPERATOR_TOKEN_FILE}


def backup(config: Mapping, dest: Path, *, now: float) -> dict:
    """The database (SQLite's online backup, or ``pg_dump -Fc``), the secret keys and the
    operator token into the new directory ``dest``, with a manifest: what, when, the schema
    revision, a SHA-256 of every file. The issuer may keep running."""
    url = config["DATABASE_URL"]
    revision = db.current_revision(url)
    if revision is None:
        raise NotReady(N_("the database is not set up: nothing to back up"))
    try:
        dest.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if any(dest.iterdir()):
            raise Invalid(N_("%(path)s is not empty: back up into a new directory"),
                          path=str(dest)) from None
    kind = sa.make_url(url).get_backend_name()
    database = dest / (SQLITE_FILE if kind == "sqlite" else PG_FILE)
    _private(database)
    if kind == "sqlite":
        _sqlite_copy(sa.make_url(url).database, database)
    else:
        _pg(["pg_dump", "--format=custom", "--no-owner", f"--file={database}"], url)
    for name, filename in SECRETS.items():
        if config.get(name):
            settings.write_secret_file(dest / filename, config[name])
    files = {path.name: _sha256(path) for path in sorted(dest.iterdir())}
    manifest = {"format": 1, "created_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
                "database": kind, "schema_revision": revision, "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {"path": str(dest), **manifest}


def restore(config: Mapping, src: Path, *, force: bool) -> dict:
    """Put back what :func:`backup` saved: checks every file against the manifest first, and
    refuses an installation that has a database or keys already unless ``force``."""
    manifest = _checked(src)
    url, data_dir = config["DATABASE_URL"], Path(config["DATA_DIR"])
    kind = sa.make_url(url).get_backend_name()
    if manifest["database"] != kind:
        raise Invalid(N_("the backup holds a %(held)s database; this installation's is %(kind)s"),
                      held=manifest["database"], kind=kind)
    present = [f for f in SECRETS.values() if (data_dir / f).exists()]
    if _has_database(url):
        present.append("database")
    if present and not force:
        raise Invalid(N_("this installation is not empty (%(present)s): "
                         "restore over it with --force"), present=", ".join(present))
    db.dispose(url)
    if kind == "sqlite":
        target = Path(sa.make_url(url).database)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(target)
        _sqlite_copy(str(src / SQLITE_FILE), target)
    else:
        # pg_restore --clean drops a partition's primary key before its parent's, which
        # PostgreSQL refuses (the key is the parent's): the partitioned trips go first.
        with db.engine(url).begin() as conn:
            partitions.drop_table(conn)
        db.dispose(url)
        _pg(["pg_restore", "--no-owner", "--clean", "--if-exists", "--exit-on-error"], url,
            str(src / PG_FILE))
        analyze(url)
    # The keys last: a database that could not be restored leaves the keys as they were.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for filename in SECRETS.values():
        if filename in manifest["files"]:
            keyring.replace_secret_file(data_dir / filename, [(src / filename).read_text().strip()])
    revision = db.current_revision(url)
    return {"restored": str(src), "created_at": manifest["created_at"],
            "schema_revision": revision, "up_to_date": revision == db.head_revision()}


def analyze(url: str) -> None:
    """The planner's statistics of every table of ``url``'s schema (PostgreSQL), gathered
    now: after a restore, or a database filled at once. A dump holds none, and until
    autovacuum gathers them the planner takes each table for a few rows: a join it would
    make with an index then runs as a loop over every row (the renewal's look for the pass
    it follows, the refresh's for next month's)."""
    engine = db.engine(url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = "
                                      "current_schema()")).scalars().all()
        for table in tables:
            conn.execute(sa.text(f'ANALYZE "{table}"'))
    db.dispose(url)


def _has_database(url: str) -> bool:
    """Whether ``url`` holds a vexe schema; never creates a SQLite file to find out."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return False
    return db.current_revision(url) is not None


def _checked(src: Path) -> dict:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise Invalid(N_("%(path)s is not a vexe backup (no readable %(manifest)s)"),
                      path=str(src), manifest=MANIFEST) from None
    for name, digest in files.items():
        path = src / Path(name).name
        if not path.is_file() or _sha256(path) != digest:
            raise Invalid(N_("%(path)s is missing or differs from the manifest: nothing restored"),
                          path=str(path))
    return manifest


def _sqlite_copy(source: str, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others write (WAL or not), never a
    file copy that could catch a page half written."""
    src = sqlite3.connect(f"file:{urllib.parse.quote(source)}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def _private(path: Path) -> None:
    """Create ``path`` owner-only before anything writes into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _pg(command: list[str], url: str, *args: str) -> None:
    """Run a PostgreSQL client on the database of ``url``: the password in the environment,
    never on the command line. A search_path in the URL's options limits the dump to that
    schema, which the dump then creates again."""
    if shutil.which(command[0]) is None:
        raise NotReady(N_("%(program)s is not on PATH: install PostgreSQL's client programs"),
                       program=command[0])
    parsed = sa.make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    libpq = parsed.set(drivername="postgresql", password=None)
    options = libpq.query.get("options", "")
    schema = [f"--schema={o.split('=', 1)[1]}" for o in str(options).split()
              if o.startswith("-csearch_path=") and command[0] == "pg_dump"]
    uri = libpq.render_as_string(hide_password=False)
    done = subprocess.run([*command, *schema, f"--dbname={uri}", *args], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise NotReady(N_("%(program)s failed: %(problem)s"), program=command[0],
                       problem=lines[-1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- retention -----------------------------------------------------------------------------

def prune_trips(url: str, *, days: int, now: float, ingest_days: float = 0) -> dict:
    """Forget which pass made the trips older than ``days``; every count stays, the rollups
    are not touched. ``days`` 0 keeps everything.

    On PostgreSQL a month wholly older than that goes whole: its partition is detached and
    dropped (issuer.platform.partitions), a catalogue change where deleting or rewriting its
    rows would leave as many dead rows for vacuum. A month is dropped only once it is also
    older than what the ingest still takes (``ingest_days``, VEXE_INGEST_MAX_AGE_DAYS): a
    late trip must find its month, and a trip sent again the first copy, or it would be
    counted twice. The trips older than ``days`` that are left (the month at the boundary,
    and every trip on SQLite) lose their pass id, which becomes NULL (and a journey's, which
    may not be NULL, ''), so no one can tell whose they were."""
    if days <= 0:
        return {"days": 0, "trips": 0, "journeys": 0, "partitions_dropped": []}
    cutoff = int((now - days * 86400) * 1000)
    engine = db.engine(url)
    # Its own short transaction: detaching locks the whole table, and the ingest waits.
    with engine.begin() as conn:
        dropped = partitions.drop_before(
            conn, min(cutoff, int((now - ingest_days * 86400) * 1000)))
    with engine.begin() as conn:
        trips = conn.execute(sa.text("UPDATE trips SET pass_id = NULL "
                                     "WHERE at_ms < :cutoff AND pass_id IS NOT NULL"),
                             {"cutoff": cutoff}).rowcount
        journeys = conn.execute(sa.text("UPDATE journeys SET pass_id = '' "
                                        "WHERE boarded_ms < :cutoff AND pass_id <> ''"),
                                {"cutoff": cutoff}).rowcount
    return {"days": days, "before": dt.datetime.fromtimestamp(cutoff / 1000, dt.UTC).isoformat(),
            "trips": trips, "journeys": journeys, "partitions_dropped": dropped}
