"""Reminders to renew: on the account page in a pass's last days, handed to the card with the
rider's passes (for it to remind offline), and by e-mail through a real SMTP server
(aiosmtpd on a free port) to riders who gave an address, once a pass."""

from __future__ import annotations

import email
import email.policy
import json

import msgspec
import pytest
import sqlalchemy as sa

from issuer.api import shapes
from issuer.platform.models import Account, Pass, SentReminder
from issuer.sales import orders
from shared import clock
from issuer import reminders_cli
from tests.issuer.conftest import Cli
from tests.payments.conftest import CSRF
from tests.payments.test_bank_transfers import credit, notify
from tests.testkit import free_port

DAY = 86400


class Inbox:
    """What the mail server took, as messages."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def cli(initialised):
    """``vexe`` with its reminders command, against the initialised issuer."""
    runner = Cli(initialised)
    runner.group.add_command(reminders_cli.reminders_group)
    return runner


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.env = {"VEXE_SMTP_HOST": "127.0.0.1", "VEXE_SMTP_PORT": str(controller.port),
                 "VEXE_SMTP_STARTTLS": "false", "VEXE_SMTP_FROM": "ve@vexe.example",
                 "VEXE_PUBLIC_URL": "https://vexe.example", "VEXE_REMINDER_DAYS": "5"}
    yield inbox
    controller.stop()


def ending_in(session, pass_id: str, seconds: int) -> None:
    session.execute(sa.update(Pass).where(Pass.id == pass_id)
                    .values(valid_until=int(clock.now()) + seconds))
    session.commit()


def rider_with_pass(api, session, address: str | None, ends_in: int) -> dict:
    account = api.account()
    p = api.issue(account["id"], "multi")
    session.execute(sa.update(Account).where(Account.id == account["id"]).values(email=address))
    ending_in(session, p["id"], ends_in)
    return p


def test_reminders_are_emailed_once_in_the_last_days(api, session, cli, mailbox):
    due = rider_with_pass(api, session, "an@example.vn", 3 * DAY)
    rider_with_pass(api, session, None, 3 * DAY)  # no address: the account page only
    rider_with_pass(api, session, "xa@example.vn", 10 * DAY)  # not yet
    renewed = rider_with_pass(api, session, "da@example.vn", 2 * DAY)
    after = session.get(Pass, renewed["id"]).valid_until
    later = api.issue(renewed["account_id"], "multi",
                      month=_month_of(session.get(Pass, renewed["id"]).valid_until + DAY))
    session.execute(sa.update(Pass).where(Pass.id == later["id"]).values(valid_from=after))
    session.commit()

    sent = json.loads(cli.ok("reminders", "send", env=mailbox.env).stdout)["sent"]
    assert [s["pass_id"] for s in sent] == [due["id"]]
    [mail] = mailbox.messages
    assert mail["To"] == "an@example.vn" and mail["From"] == "ve@vexe.example"
    assert mail["Subject"].startswith("Vé tháng của bạn hết hạn ngày ")
    body = mail.get_content()
    assert "Xin chào Nguyễn Văn An" in body and due["id"] in body
    assert f"https://vexe.example/my/#pass-{due['id']}" in body

    # Run again (a timer firing twice): nothing more is sent.
    assert json.loads(cli.ok("reminders", "send", env=mailbox.env).stdout)["sent"] == []
    assert len(mailbox.messages) == 1
    assert session.scalars(sa.select(SentReminder.pass_id)).all() == [due["id"]]


def _month_of(at: float) -> str:
    year, month = clock.hanoi_month(at)
    return f"{year:04d}-{month:02d}"


def test_mail_server_down_sends_nothing_and_marks_nothing(api, session, cli, mailbox):
    rider_with_pass(api, session, "an@example.vn", 3 * DAY)
    down = {**mailbox.env, "VEXE_SMTP_PORT": str(free_port())}  # nothing listens there
    line = cli.fails("reminders", "send", code=1, env=down)
    assert "no mail server at 127.0.0.1" in line
    assert session.scalars(sa.select(SentReminder)).all() == []
    # No server set at all: said, and nothing marked either.
    line = cli.fails("reminders", "send", code=1, env={"VEXE_REMINDER_DAYS": "5"})
    assert "VEXE_SMTP_HOST" in line
    assert session.scalars(sa.select(SentReminder)).all() == []
    # The server back: the reminder goes at the next run.
    assert len(json.loads(cli.ok("reminders", "send", env=mailbox.env).stdout)["sent"]) == 1


def test_the_account_page_reminds_and_keeps_an_address(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-R1", content=f"VX{order_id}"))
    pass_id = shop.order_row(order_id).pass_id
    home = rider.get(f"{shop.issuer.url}/my/", timeout=10, headers={"Accept-Language": "vi"})
    assert f'id="reminder-{pass_id}"' not in home.text  # weeks left (or the month's last days)
    with shop.engine.begin() as conn:
        conn.execute(sa.update(Pass).where(Pass.id == pass_id)
                     .values(valid_until=int(clock.now()) + 2 * DAY))
    home = rider.get(f"{shop.issuer.url}/my/", timeout=10).text
    assert f'id="reminder-{pass_id}"' in home and "chưa gia hạn tháng sau" in home

    def post(address: str):
        page = rider.get(f"{shop.issuer.url}/my/", timeout=10).text
        return rider.post(f"{shop.issuer.url}/my/email", timeout=10,
                          data={"csrf_token": CSRF.search(page).group(1), "email": address})

    def stored():
        with shop.engine.connect() as conn:
            return conn.execute(sa.select(Account.email)).scalars().all()

    assert "an@example.vn" in post("an@example.vn").text and stored() == ["an@example.vn"]
    for bad in ("an@", "an example@vn", "@example.vn", "a" * 250 + "@example.vn"):
        answer = post(bad)
        assert answer.status_code == 200 and "không phải là địa chỉ e-mail hợp lệ" in answer.text
        assert stored() == ["an@example.vn"]  # nothing changed
    assert "Không nhận lời nhắc qua e-mail" in post("").text and stored() == [None]
    # Without the form's token: refused, nothing changed.
    refused = rider.post(f"{shop.issuer.url}/my/email", data={"email": "x@example.vn"},
                         timeout=10)
    assert refused.status_code in (400, 403) and stored() == [None]


def test_the_card_is_told_when_to_remind(api, session):
    """The rider's list of passes (what the card fetches and keeps for offline) carries the
    reminder's start, the same window as the account page's and the e-mails', and whether
    next month is held or ordered; as documented. None for a pass that is not renewed."""
    token, p = api.rider_pass("multi")
    ending_in(session, p["id"], 3 * DAY)
    until = session.get(Pass, p["id"]).valid_until

    def renewal(pass_id: str):
        answer = api.ok("GET", "/api/me/passes", token=token)
        msgspec.convert(answer, shapes.Passes)  # unknown or mistyped fields are refused
        return {x["id"]: x["renewal"] for x in answer["passes"]}[pass_id]

    assert renewal(p["id"]) == {"remind_from": until - 5 * DAY, "held": False, "order": None}

    # Ordered, not paid yet: the order, with when it lapses.
    order = orders.create(session, p["account_id"], "multi", _month_of(until), now=clock.now(),
                          open_day=1, expires_in=3600)
    assert renewal(p["id"])["order"] == {"id": order.id, "expires_at": order.expires_at}
    orders.cancel(session, order.id, now=clock.now())
    session.commit()
    assert renewal(p["id"])["order"] is None

    # Next month held (the same product from the moment this one ends): said so.
    later = api.issue(p["account_id"], "multi", month=_month_of(until + DAY))
    session.execute(sa.update(Pass).where(Pass.id == later["id"]).values(valid_from=until))
    session.commit()
    assert renewal(p["id"]) == {"remind_from": until - 5 * DAY, "held": True, "order": None}

    api.ok("POST", f"/api/passes/{p['id']}/revoke", json={"reason": "nhầm", "code": "mistake"})
    assert renewal(p["id"]) is None
