"""``vexe secret``, ``vexe backup``, ``vexe restore`` and ``vexe trips``: keeping an
installation alive (issuer.platform.upkeep; docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import click

from issuer.platform import upkeep, settings
from issuer.platform.commandline import Command, Group, emit
from shared import clock

KEYS = click.Choice(["sealing", "cookies", "national-id"])


@click.group("secret", cls=Group)
def secret() -> None:
    """Rotate the issuer's secret keys (the national-ID key excepted)."""


@secret.command("rotate")
@click.argument("key", type=KEYS)
def secret_rotate(key: str) -> None:
    """Put a new KEY first; the old one still opens and verifies until `vexe secret finish`."""
    emit(upkeep.rotate(settings.load(), key))


@secret.command("finish")
@click.argument("key", type=KEYS)
def secret_finish(key: str) -> None:
    """After every issuer was reloaded: reseal with the new KEY and drop the old ones."""
    emit(upkeep.finish(settings.load(), key))


@click.command("backup", cls=Command)
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup(dest: Path) -> None:
    """Copy the database, the secret keys and the operator token into the new directory DEST,
    with a manifest of checksums. The issuer may keep running."""
    emit(upkeep.backup(settings.load(), dest, now=clock.now()))


@click.command("restore", cls=Command)
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the database and keys already here.")
def restore(src: Path, force: bool) -> None:
    """Put back a backup made by `vexe backup`, after checking its checksums."""
    emit(upkeep.restore(settings.load(), src, force=force))


@click.group("trips", cls=Group)
def trips() -> None:
    """The trips kept in the database."""


@trips.command("prune")
@click.option("--older-than-days", "days", type=click.IntRange(0, 36_500), default=None,
              help="Trips older than this lose their pass id; 0 keeps everything "
                   "(default: the setting VEXE_TRIPS_RETENTION_DAYS, 0).")
def trips_prune(days: int | None) -> None:
    """Forget which pass made the old trips; every rollup stays. On PostgreSQL, months
    wholly past the retention and the ingest's oldest (VEXE_INGEST_MAX_AGE_DAYS) are dropped."""
    config = settings.load()
    days = config["TRIPS_RETENTION_DAYS"] if days is None else days
    emit(upkeep.prune_trips(config["DATABASE_URL"], days=days, now=clock.now(),
                            ingest_days=config["INGEST_MAX_AGE_DAYS"]))


commands = [secret, backup, restore, trips]
