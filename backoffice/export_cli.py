"""``vexe export``: ridership and the catalogue in the standard formats planners read
(docs/exports.md). Run on the server by whoever holds its settings: the exports read the
database, and TIDES's pseudonyms need the server's national-ID key."""

from __future__ import annotations

from pathlib import Path

import click

from backoffice import gtfs_fares, reports, tides
from backoffice.buckets import parse_date
from issuer.platform import vault
from issuer.platform.commandline import Group, command_session, emit, fail


@click.group("export", cls=Group)
def export_group() -> None:
    """Ridership as TIDES, the catalogue as GTFS-Fares v2."""


def _date(option: str, value: str):
    """A date, or the one line that says what is wrong with it (click's own error is a
    usage screen: every ``vexe`` failure is one line)."""
    try:
        return parse_date(value)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)


def _directory(out: Path) -> None:
    if out.exists() and not out.is_dir():
        fail(f"--out: {out} is not a directory", 2)


OUT = click.option("--out", required=True, type=click.Path(path_type=Path),
                   help="The directory to write into (created if missing); files of the same "
                        "names there are replaced.")


@export_group.command("tides")
@click.option("--since", required=True, metavar="YYYY-MM-DD",
              help="The first Hanoi service day, inclusive.")
@click.option("--until", required=True, metavar="YYYY-MM-DD",
              help=f"The last Hanoi service day, inclusive (at most {reports.MAX_DAYS} days).")
@OUT
def export_tides(since: str, until: str, out: Path) -> None:
    """fare_transactions.csv, passenger_events.csv and devices.csv of the accepted scans of
    the period, per TIDES. Pass ids are written as keyed pseudonyms, never as they are."""
    # A bad period or place is refused before anything is read or written.
    period = reports.period(_date("--since", since), _date("--until", until))
    _directory(out)
    with command_session() as (config, session):
        pseudonym = vault.pseudonymiser(config["NATIONAL_ID_KEY"])
        emit(tides.export(session, period, out, pseudonym))


@export_group.command("gtfs-fares")
@OUT
@click.option("--eligibility-url", default=None, metavar="URL",
              help="A page saying who belongs to each fare category and how to apply: "
                   "written as each category's eligibility_url.")
def export_gtfs_fares(out: Path, eligibility_url: str | None) -> None:
    """fare_products.txt, fare_media.txt and rider_categories.txt (GTFS-Fares v2) from the
    catalogue, to publish beside the network's GTFS feed."""
    _directory(out)
    with command_session() as (_, session):
        emit(gtfs_fares.export(session, out, eligibility_url))


commands = [export_group]
