"""``vexe bank`` and ``vexe payments``: what a tester sends in the bank's place, and the
operator's upkeep of orders and payments (issuer.sales; docs/payments.md)."""

from __future__ import annotations

import csv
import io
import json
import secrets

import click
import requests

from issuer.network import fleet
from issuer.platform import settings
from issuer.platform.commandline import Group, command_session, emit, fail
from issuer.platform.errors import NotReady
from shared.i18n import N_
from backoffice import company_settlement
from issuer.sales import bank, orders, reconcile, settlement
from issuer.web.params import guarded
from shared import clock

WEBHOOK_PATH = "/api/payments/bank-notifications"


@click.group("bank", cls=Group)
def bank_group() -> None:
    """The bank account riders transfer to (VietQR)."""


@bank_group.command("notify")
@click.option("--reference", required=True,
              help="The transfer's description, as the payer typed it (VX and the order id).")
@click.option("--amount", required=True, type=click.IntRange(1, 10**12), help="In dong.")
@click.option("--txn-id", default=None, help="The bank's transaction id (default: a new one).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The issuer the notification goes to.")
@click.option("--at", "at", type=int, default=None,
              help="The timestamp to sign with, Unix seconds (default: now).")
def bank_notify(reference: str, amount: int, txn_id: str | None, url: str,
                at: int | None) -> None:
    """Send the issuer a correctly signed notification of a transfer into the operator's
    account, as the bank-statement service would (VEXE_BANK_ACCOUNT, signed with
    VEXE_BANK_WEBHOOK_SECRET). Prints the issuer's answer; exits 1 unless it took it."""
    config = settings.load()
    account, secret = config.get("BANK_ACCOUNT"), config.get("BANK_WEBHOOK_SECRET")
    if not account or not secret:
        raise NotReady(N_("set VEXE_BANK_ACCOUNT and VEXE_BANK_WEBHOOK_SECRET to sign with"))
    body = json.dumps({
        "id": txn_id or f"FT{secrets.randbelow(10**12):012d}", "gateway": "Test bank",
        "transactionDate": clock.iso(clock.now()), "accountNumber": account,
        "content": reference, "transferType": "in", "transferAmount": amount,
        "referenceCode": "", "description": reference}, ensure_ascii=False).encode("utf-8")
    timestamp = str(int(clock.now()) if at is None else at)
    try:
        answer = requests.post(url.rstrip("/") + WEBHOOK_PATH, data=body, timeout=30, headers={
            "Content-Type": "application/json", bank.TIMESTAMP_HEADER: timestamp,
            bank.SIGNATURE_HEADER: bank.sign(secret, timestamp, body)})
    except requests.RequestException as exc:
        fail(f"the issuer at {url} did not answer: {exc}", 1)
    try:
        shown = answer.json()
    except ValueError:
        shown = {"status": answer.status_code, "body": answer.text[:500]}
    emit(shown)
    if answer.status_code != 200:
        raise click.exceptions.Exit(1)


@click.group("payments", cls=Group)
def payments_group() -> None:
    """Orders and the money for them."""


@payments_group.command("expire")
def payments_expire() -> None:
    """Mark every pending order past its time (VEXE_ORDER_EXPIRY_MINUTES) expired. Money
    that comes for one later is held for a clerk. Safe to run as often as wanted."""
    with command_session() as (_, session):
        count = orders.expire(session, now=clock.now())
        session.commit()
    emit({"expired": count})


@payments_group.command("held")
def payments_held() -> None:
    """The payments held for a clerk's decision (apply or refund at /console/payments)."""
    with command_session() as (_, session):
        emit({"held": [settlement.as_dict(p) for p in settlement.held(session)]})


@payments_group.command("reconcile")
@click.option("--date", "day", required=True, help="The Hanoi day, YYYY-MM-DD.")
def payments_reconcile(day: str) -> None:
    """The day's reconciliation per provider as CSV: orders paid and refunded, notifications,
    money held; then every mismatch to look at, one line each."""
    with command_session() as (_, session):
        click.echo(reconcile.as_csv(reconcile.rows(session, day)), nl=False)


@click.group("settlement", cls=Group)
def settlement_group() -> None:
    """Money owed to each bus company for what was sold and ridden."""


@settlement_group.command("companies")
@click.option("--day", required=True, help="The Hanoi day, YYYY-MM-DD.")
@click.option("--company", default=None, help="One company's line only (its code).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def settlement_companies(day: str, company: str | None, as_csv: bool) -> None:
    """Each bus company's revenue for the day, in whole dong adding up to the day's revenue
    (the rule: backoffice/company_settlement.py, and the console's settlement page)."""
    date = company_settlement.parse_day(day)
    with command_session() as (_, session):
        only = None if company is None else fleet.get_company(session, company).code
        rows = company_settlement.day_rows(session, date)
    revenue = sum(r["amount_vnd"] for r in rows)
    rows = [r for r in rows if only in (None, r["company"])]
    if as_csv:
        # A company's name is typed by an operator: a spreadsheet must read it as text.
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(company_settlement.COLUMNS)
        writer.writerows(guarded([[r[c] for c in company_settlement.COLUMNS] for r in rows]))
        click.echo(out.getvalue(), nl=False)
    else:
        emit({"day": date.isoformat(), "revenue_vnd": revenue, "companies": rows})


commands = [bank_group, payments_group, settlement_group]
