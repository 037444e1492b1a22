"""What every ``vexe`` command of the issuer and the back office shares: failures as one
clear line (exit 2 for bad input, 1 when the issuer or its database is not ready), JSON on
stdout, a database session on the settings, and who the audit log names for a command."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform import db, settings
from issuer.platform.errors import IssuerError, NotReady, Unsaved


class Command(click.Command):
    """A command whose failures are one clear line, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NotReady as exc:
            fail(str(exc), 1)
        except IssuerError as exc:
            fail(str(exc), 2)
        except Unsaved as exc:
            fail(str(exc), 1)
        except sa.exc.OperationalError as exc:
            fail(f"database unavailable or not set up (run `vexe init`): "
                 f"{str(exc.orig).strip().splitlines()[0]}", 1)
        except sa.exc.ProgrammingError as exc:
            fail(f"database not set up (run `vexe init`): "
                 f"{str(exc.orig).strip().splitlines()[0]}", 1)
        except sa.exc.IntegrityError:
            fail("a concurrent change conflicted with this one; run the command again", 1)
        except OSError as exc:  # a data directory or image file that can't be written
            fail(f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc), 1)


class Group(click.Group):
    command_class = Command


def fail(message: str, code: int):
    click.echo(f"vexe: {message}", err=True)
    raise click.exceptions.Exit(code)


def emit(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@contextmanager
def command_session() -> Iterator[tuple[dict, Session]]:
    config = settings.load()
    with db.session(config["DATABASE_URL"]) as session:
        yield config, session


def cli_actor() -> str:
    """Who the audit log names for a command: the system user running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
