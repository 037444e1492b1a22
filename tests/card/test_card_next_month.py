"""The turn of the month on a renewed rider's phone: next month's pass, paid for while this
month's is on the phone, is bound to the same phone and its credential reaches the card
ahead; at 00:00 Hanoi time the card shows it with the network cut, and a validator at that
moment accepts its QR."""

import datetime as dt

import pytest
import redis
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.models import Pass
from shared import clock, redis_keys
from shared.denylist import Denylist
from shared.keys import TrustList
from tests.card.conftest import ADULT, operator_call, renewed_and_paid


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    yield f"sqlite:///{tmp_path / 'vexe.db'}"


def tonight_midnight() -> int:
    """The next 00:00 in Hanoi: here the month turns (the passes are moved to meet there)."""
    today = dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date()
    return int(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), clock.HANOI)
               .timestamp())


def check_at(bus, text: str, now: float):
    """The bus's validator deciding at ``now`` rather than at the machine's time."""
    from validator.check import check

    client = redis.Redis.from_url(bus.redis_url)
    try:
        trust = TrustList.from_jwks(client.get(redis_keys.TRUST_LIST))
        raw = client.get(redis_keys.DENYLIST)
    finally:
        client.close()
    return check(text, trust=trust, denylist=Denylist.loads(raw) if raw else Denylist.empty(),
                 route=bus.route, vehicle=bus.vehicle, now=now)


def test_the_new_month_shows_at_midnight_offline(phones, eid_world, initialised, bus):
    phone = phones()
    phone.context.clock.install(time=clock.now())  # the phone's clock, to move it later
    phone.sign_in(ADULT)
    account = phone.page.evaluate("fetch('/api/me').then((r) => r.json())")
    current = operator_call(eid_world, initialised, "POST", "/api/passes",
                            json={"account_id": account["id"], "product": "multi"})
    phone.page.reload()
    phone.activate()

    # Renewed from the account page and paid: next month's pass, on this phone already.
    url = initialised["DATABASE_URL"]
    following = renewed_and_paid(url, account["id"])
    with db.session(url) as session:
        # The month turns tonight: both passes moved to meet at the next midnight.
        midnight = tonight_midnight()
        session.execute(sa.update(Pass).where(Pass.id == current["id"])
                        .values(valid_until=midnight))
        session.execute(sa.update(Pass).where(Pass.id == following).values(valid_from=midnight))
        session.commit()

    # The evening before: the card, online once, takes next month's credential ahead.
    with phone.page.expect_response(lambda r: f"/api/passes/{following}/credential" in r.url
                                    and r.status == 200):
        phone.page.reload()
    phone.page.wait_for_selector(f'#card[data-pass="{current["id"]}"][data-state="show"]')

    # The network is cut; the phone's clock runs to a minute before midnight: this month.
    phone.context.set_offline(True)
    phone.page.wait_for_selector("#network.offline")
    phone.page.clock.set_system_time(midnight - 60)
    phone.page.wait_for_selector(f'#card[data-pass="{current["id"]}"][data-state="show"]')

    # 00:00:30 on the 1st, still offline: the new month's pass and its QR, by itself.
    phone.page.clock.set_system_time(midnight + 30)
    phone.page.wait_for_selector(f'#card[data-pass="{following}"][data-state="show"]')
    phone.wait_for_qr()
    decision = check_at(bus, phone.read_qr("vi-new-month-offline"), midnight + 32)
    assert decision.reason == "ok" and decision.claims.pid == following
    assert check_at(bus, phone.read_qr(), midnight - 3600).reason != "ok"  # not before its time
