"""``vexe reminders``: e-mailing riders whose pass ends soon (issuer.sales.reminders); and
``vexe settlement companies``: the day's revenue per bus company."""

from __future__ import annotations

import click

from issuer.platform.commandline import Group, command_session, emit, fail
from issuer.platform.errors import IssuerError
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




@click.group("settlement", cls=Group)
def settlement_group() -> None:
    """What the bus companies are owed."""


@settlement_group.command("companies")
@click.option("--day", required=True, help="The Hanoi day, YYYY-MM-DD.")
@click.option("--company", default=None, help="One company's line only (its code).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def settlement_companies(day: str, company: str | None, as_csv: bool) -> None:
    """The day's pass revenue per bus company, in whole dong adding up to the day's revenue
    (the rule: issuer/sales/company_settlement.py and the console page)."""
    from issuer.sales import company_settlement

    with command_session() as (_, session):
        try:
            lines = company_settlement.rows(session, day, company=company)
        except IssuerError as exc:
            fail(str(exc), 2)
    if as_csv:
        click.echo(company_settlement.as_csv(lines), nl=False)
    else:
        emit({"day": day, "companies": lines,
              "total_vnd": sum(line["amount_vnd"] for line in lines)})


commands = [reminders_group, settlement_group]
