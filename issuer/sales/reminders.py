"""Reminders to renew: in a monthly pass's last ``REMINDER_DAYS`` days, while the rider holds
no pass for the month after it, the account page says so, and riders who gave an e-mail
address get one message a pass (``vexe reminders send``, from a timer).

A reminder is marked sent in the same transaction that sends it: the row is written, the
message handed to the mail server, then the row committed. A server that refuses or is down
leaves nothing marked, so the next run tries again; a second run, or two at once (the row's
primary key), sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import ssl
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from issuer.platform.errors import Invalid
from issuer.platform.models import Account, Pass, SentReminder
from issuer.passes import passes
from issuer.sales import orders
from shared import clock, i18n
from shared.i18n import N_

MONTHLY = ("single", "multi")
DAY = 86400
# Enough to catch a typing slip; whether the address works is the mail server's to say.
ADDRESS = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}")

SUBJECT = N_("Your monthly pass ends on %(day)s: renew it for %(month)s")
BODY = N_("Hello %(name)s,\n\nYour monthly pass %(pass_id)s ends on %(day)s. Renew it for "
          "%(month)s in one tap on your account page:\n%(link)s\n\nThe new month then shows "
          "on your card at 00:00 on the 1st by itself.\n")


class MailDown(Exception):
    """The mail server could not take a message: nothing was marked sent."""


def set_email(session: Session, account: Account, address: str | None) -> None:
    """The rider's address for reminders; empty removes it. The caller commits."""
    address = (address or "").strip()
    if address and (len(address) > 254 or not ADDRESS.fullmatch(address)):
        raise Invalid(N_("%(address)s is not an e-mail address"), address=address[:254])
    account.email = address or None
    session.flush()


def remind_from(valid_until, days: int):
    """When the reminder for a pass ending at ``valid_until`` starts: its last ``days`` days.
    The one rule for the account page, the e-mails and the card (which is handed the moment
    and decides by its own clock, offline too); ``valid_until`` a number or a column."""
    return valid_until - days * DAY


def _renewed():
    """Whether the rider holds the pass after ``Pass``'s: the same product and route,
    starting when it ends (correlated with the query ``Pass`` is in)."""
    later = aliased(Pass)
    same_route = sa.or_(sa.and_(later.route_code.is_(None), Pass.route_code.is_(None)),
                        later.route_code == Pass.route_code)
    return sa.exists().where(later.account_id == Pass.account_id,
                             later.product == Pass.product, same_route,
                             later.valid_from == Pass.valid_until,
                             later.status == passes.ACTIVE)


def _due_query(now: float, days: int):
    """Monthly passes running now whose reminder has started, with no pass of the rider's
    for the same product and route starting when they end."""
    return (sa.select(Pass, Account).join(Account, Account.id == Pass.account_id)
            .where(Pass.product.in_(MONTHLY), Pass.status == passes.ACTIVE,
                   Pass.valid_from <= now, Pass.valid_until > now,
                   remind_from(Pass.valid_until, days) <= now, ~_renewed())
            .order_by(Pass.valid_until, Pass.id))


def due_for(session: Session, account_id: str, *, now: float, days: int) -> list[Pass]:
    """The rider's passes to remind her of on her account page."""
    return [p for p, _ in session.execute(_due_query(now, days)
                                          .where(Pass.account_id == account_id))]


def renewal(session: Session, p: Pass, *, now: float, days: int) -> dict | None:
    """What the card needs to remind the rider of ``p`` by itself, with or without the
    network: when the reminder starts, whether next month is held already, and the renewal
    order waiting for payment if there is one (with when it lapses). None for a pass that is
    not renewed (free, revoked)."""
    if p.product not in MONTHLY or p.status != passes.ACTIVE:
        return None
    held = bool(session.scalar(sa.select(_renewed()).where(Pass.id == p.id)))
    order = None if held else orders.pending_renewal(session, p, now=now)
    return {"remind_from": remind_from(p.valid_until, days), "held": held,
            "order": order and {"id": order.id, "expires_at": order.expires_at}}


def message(p: Pass, account: Account, *, sender: str, public_url: str,
            language: str = i18n.DEFAULT) -> EmailMessage:
    last_day = dt.datetime.fromtimestamp(p.valid_until - 1, clock.HANOI).date()
    year, month = clock.hanoi_month(p.valid_until)
    values = {"day": i18n.day(last_day, language),
              "month": i18n.month(f"{year:04d}-{month:02d}", language),
              "name": account.full_name, "pass_id": p.id,
              "link": f"{public_url.rstrip('/')}/my/#pass-{p.id}"}
    mail = EmailMessage()
    mail["From"], mail["To"] = sender, account.email
    mail["Subject"] = i18n.gettext(language, SUBJECT, **values)
    mail.set_content(i18n.gettext(language, BODY, **values))
    return mail


def send(session: Session, config: dict, *, now: float) -> list[dict]:
    """E-mail every reminder due and not yet sent; what was sent. MailDown if the server
    fails (the ones sent before it stay sent, and marked)."""
    if not config.get("SMTP_HOST"):
        raise MailDown("no mail server: set VEXE_SMTP_HOST")
    query = (_due_query(now, config["REMINDER_DAYS"])
             .where(Account.email.is_not(None),
                    ~sa.exists().where(SentReminder.pass_id == Pass.id)))
    due = list(session.execute(query))
    if not due:
        return []
    sent = []
    with _server(config) as server:
        for p, account in due:
            mail = message(p, account, sender=config["SMTP_FROM"],
                           public_url=config["PUBLIC_URL"])
            session.add(SentReminder(pass_id=p.id, address=account.email, sent_at=int(now)))
            try:
                session.flush()  # a run at the same moment took this one: it sends it
            except sa.exc.IntegrityError:
                session.rollback()
                continue
            try:
                server.send_message(mail)
            except (smtplib.SMTPException, OSError) as exc:
                session.rollback()
                raise MailDown(f"the mail server refused the reminder for pass {p.id}: "
                               f"{exc}") from None
            session.commit()
            sent.append({"pass_id": p.id, "to": account.email, "subject": mail["Subject"]})
    return sent


class _server:
    """The SMTP connection, with STARTTLS and login as set; MailDown if it can't be had."""

    def __init__(self, config: dict):
        self.config = config
        self.smtp = None

    def __enter__(self) -> smtplib.SMTP:
        config = self.config
        try:
            self.smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30)
            if config["SMTP_STARTTLS"]:
                self.smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                self.smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDown(f"no mail server at {config['SMTP_HOST']}:{config['SMTP_PORT']}: "
                           f"{exc}") from None
        return self.smtp

    def __exit__(self, *exc) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the messages are sent; a goodbye lost is nothing
