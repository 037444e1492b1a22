"""Settlement per bus company for a Hanoi day: single-route passes to the route's company,
multi-route passes shared by their boardings on each company's vehicles, whole dong that
add up exactly (largest remainder); the command, and its refusals."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction

import pytest
import sqlalchemy as sa

from backoffice.models import Trip
from issuer import reminders_cli
from issuer.network import fleet
from issuer.platform.models import Route
from issuer.sales import company_settlement, orders
from shared import clock
from tests.issuer.conftest import Cli


@pytest.fixture
def cli(initialised):
    runner = Cli(initialised)
    runner.group.add_command(reminders_cli.settlement_group)
    return runner


def paid_pass(api, session, product: str, route: str | None = None):
    account = api.account()
    now = clock.now()
    order = orders.create(session, account["id"], product, orders.months_on_sale(now, 1)[0],
                          now=now, open_day=1, route=route)
    paid = orders.pay(session, order.id, amount_vnd=order.price_vnd, handled_by="test", now=now)
    session.commit()
    return paid


def board(session, pass_id: str, vehicle: str, n: int) -> None:
    now_ms = int(clock.now() * 1000)
    for i in range(n):
        at = now_ms - 1000 * (i + 1)
        session.add(Trip(id=f"{at}-{vehicle[-2:]}{i}", validator="v1", vehicle=vehicle,
                         route="32", at_ms=at, decision="accept", reason="ok",
                         pass_id=pass_id, product="multi", mode="board", stream_ms=at,
                         ingested_ms=at))
    session.commit()


def test_the_day_shared_per_company(api, session, cli):
    now = clock.now()
    fleet.add_company(session, "TRANSERCO", "Transerco", now=now)
    fleet.add_company(session, "BAYHAI", "Bảy Hai", now=now)
    fleet.add_vehicle(session, "29B-100.01", "TRANSERCO", now=now)
    fleet.add_vehicle(session, "29B-200.02", "BAYHAI", now=now)
    api.route("32")
    session.execute(sa.update(Route).where(Route.code == "32")
                    .values(company_code="TRANSERCO"))
    session.commit()
    single = paid_pass(api, session, "single", route="32")
    used = paid_pass(api, session, "multi")
    paid_pass(api, session, "multi")  # not used today: not allocated
    board(session, used.pass_id, "29B-100.01", 2)
    board(session, used.pass_id, "29B-200.02", 1)

    today = dt.datetime.fromtimestamp(now, clock.HANOI).date().isoformat()
    answer = json.loads(cli.ok("settlement", "companies", "--day", today).stdout)
    got = {line["company"]: line["amount_vnd"] for line in answer["companies"]}
    year, month = clock.hanoi_month(now)
    start, end = clock.month_bounds(year, month)
    day = Fraction(86400, end - start)
    exact = {"TRANSERCO": single.price_vnd * day + used.price_vnd * day * 2 / 3,
             "BAYHAI": used.price_vnd * day / 3, "-": used.price_vnd * day}
    assert set(got) == set(exact)
    assert sum(got.values()) == answer["total_vnd"] == round(sum(exact.values()))
    assert all(abs(got[k] - exact[k]) < 1 for k in exact)

    csv = cli.ok("settlement", "companies", "--day", today, "--csv").stdout.splitlines()
    assert csv[0] == "day,company,amount_vnd" and len(csv) == 4
    one = json.loads(cli.ok("settlement", "companies", "--day", today, "--company",
                            "bayhai").stdout)
    assert [line["company"] for line in one["companies"]] == ["BAYHAI"]


def test_bad_day_and_unknown_company_are_refused(cli):
    for bad in ("2026-13-01", "yesterday", "", "2026-02-30"):
        assert "is not a day" in cli.fails("settlement", "companies", "--day", bad)
    assert "no company" in cli.fails("settlement", "companies", "--day", "2026-12-01",
                                     "--company", "NOPE")
    missing = cli.run("settlement", "companies")  # --day is required
    assert missing.exit_code == 2 and "Missing option '--day'" in missing.stderr


def test_largest_remainder_adds_up_exactly():
    thirds = {"a": Fraction(100, 3), "b": Fraction(100, 3), "c": Fraction(100, 3)}
    assert company_settlement.whole_dong(thirds) == {"a": 34, "b": 33, "c": 33}
    parts = {"x": Fraction(10, 7), "y": Fraction(20, 7), "z": Fraction(40, 7)}
    got = company_settlement.whole_dong(parts)
    assert sum(got.values()) == 10 and got == {"x": 1, "y": 3, "z": 6}


def test_the_console_page_states_the_rule_and_exports(shop):
    from tests.payments.test_bank_transfers import credit, notify

    rider = shop.rider()
    order_id = shop.order(rider)
    notify(shop, credit(id="FT-S1", content=f"VX{order_id}"))
    today = dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date().isoformat()
    clerk = shop.clerk()
    url = f"{shop.issuer.url}/console/settlement/companies/"
    page = clerk.get(url, params={"day": today}, timeout=10,
                     headers={"Accept-Language": "vi"})
    assert page.status_code == 200 and "phương pháp số dư lớn nhất" in page.text
    assert 'data-company="-"' in page.text  # the multi-route pass, not used today
    english = clerk.get(url, params={"day": today}, timeout=10, cookies={"vexe_lang": "en"})
    assert "largest remainder" in english.text
    exported = clerk.get(url, params={"day": today, "format": "csv"}, timeout=10)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.text.startswith("day,company,amount_vnd\n")
    for params, said in (({"day": "2026-13-45"}, "không phải là một ngày"),
                         ({"day": today, "company": "NOPE"}, "NOPE")):
        refused = clerk.get(url, params=params, timeout=10, headers={"Accept-Language": "vi"})
        assert refused.status_code == 400 and said in refused.text
    # A rider is not an operator: refused.
    assert rider.get(url, timeout=10, allow_redirects=False).status_code in (302, 403)
