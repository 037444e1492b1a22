"""``vexe reminders``: e-mailing riders whose pass ends soon (issuer.sales.reminders)."""

from __future__ import annotations

import click

from issuer.platform.commandline import Group, command_session, emit, fail
from issuer.sales import reminders
from shared import clock


@click.group("reminders", cls=Group)
def reminders_group() -> None:
    """Reminders to renew."""


@reminders_group.command("send")
def reminders_send() -> None:
    """E-mail a reminder to every rider with an address whose monthly pass ends within
    VEXE_REMINDER_DAYS days and who holds no pass for the month after; once a pass, however
    often it runs. Prints what it sent; exits 1 if the mail server is down (what it could
    not send stays unsent, to go at the next run)."""
    with command_session() as (config, session):
        try:
            sent = reminders.send(session, config, now=clock.now())
        except reminders.MailDown as exc:
            fail(str(exc), 1)
    emit({"sent": sent})


commands = [reminders_group]
