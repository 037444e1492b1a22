"""Settlement in money per bus company (`vexe settlement companies`, and the console's
settlement page with its CSV): single-route passes to their route's company, multi-route
passes split by their boardings, free passes bring nothing, refunded ones the money kept,
and each day's parts add up to the đồng. On SQLite and PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from backoffice import company_settlement
from backoffice.models import Trip
from issuer import create_app, payments_cli
from issuer.passes import passes
from issuer.platform.models import Company, Order, Route, Vehicle
from issuer.sales import orders, refunds
from shared import clock
from tests.identity.conftest import Served
from tests.issuer.conftest import Cli
from tests.testkit import free_port

SINGLE, MULTI = 100_000, 200_000  # the seeded prices


def today() -> dt.date:
    return dt.datetime.fromtimestamp(clock.now(), clock.HANOI).date()


def share(price: int, day: dt.date) -> int:
    """A monthly pass's part of ``day``, worked out here on its own."""
    n, i = calendar.monthrange(day.year, day.month)[1], day.day - 1
    return price * (i + 1) // n - price * i // n


class World:
    """Three companies, a vehicle of each, route 32 run by A and E05 by B; riders' passes
    bought and paid at the counter; trips as the ingest stores them."""

    def __init__(self, api, session):
        self.api, self.session = api, session
        now = int(clock.now())
        for code, name in (("A", "Xe buýt Hà Nội"), ("B", "Bắc Hà"), ("C", "=HYPERLINK(1)")):
            session.add(Company(code=code, name=name, created_at=now))
        session.flush()
        for plate, company in (("29B-100.01", "A"), ("29B-200.02", "B"), ("29B-300.03", "C")):
            session.add(Vehicle(code=plate, company_code=company, created_at=now))
        session.commit()
        for code in ("32", "E05"):
            api.route(code, f"Tuyến {code}")
        for code, company in (("32", "A"), ("E05", "B")):
            session.execute(sa.update(Route).where(Route.code == code)
                            .values(company_code=company))
        session.commit()
        self.day = today()
        self.start = company_settlement.bounds(self.day)[0]
        self.n = 0

    def buy(self, product: str, route: str | None = None, birth: str = "1990-05-01"):
        account = self.api.account(birth_date=birth)
        month = orders.months_on_sale(clock.now(), 28)[0]
        order = orders.create(self.session, account["id"], product, month, now=clock.now(),
                              open_day=28, route=route)
        order = orders.pay(self.session, order.id, amount_vnd=order.price_vnd,
                           handled_by="clerk:test", now=clock.now())
        self.session.commit()
        return order

    def ride(self, pass_id: str, vehicle: str, *, company: str | None = None,
             decision: str = "accept", mode: str = "board", day: dt.date | None = None):
        """A scan on ``vehicle`` on ``day`` (default the world's); ``company`` as the
        validator named it (None: the ingest looks at the vehicle)."""
        self.n += 1
        start = company_settlement.bounds(day or self.day)[0]
        at = (start + 3600 + self.n) * 1000
        self.session.add(Trip(
            id=f"{at:012x}{self.n:08x}", validator=f"V-{vehicle}", vehicle=vehicle, route="32",
            stop=None, at_ms=at, decision=decision, reason="ok" if decision == "accept"
            else "expired", pass_id=pass_id, product="multi", category=None, proof_at=None,
            mode=mode, company=company, stop_by=None, stream_ms=at, ingested_ms=at))
        self.session.commit()


@pytest.fixture
def world(api, session):
    return World(api, session)


@pytest.fixture
def vexe(initialised):
    """``vexe`` with the payments part's commands too."""
    cli = Cli(initialised)
    for command in payments_cli.commands:
        cli.group.add_command(command)
    return cli


def month_of(day: dt.date) -> list[dt.date]:
    first = day.replace(day=1)
    return [first + dt.timedelta(d)
            for d in range(calendar.monthrange(first.year, first.month)[1])]


def by_company(answer: dict) -> dict[str, dict]:
    return {r["company"]: r for r in answer["companies"]}


def settle(vexe, day: dt.date) -> dict:
    return vexe.json("settlement", "companies", "--day", day.isoformat())


def test_a_single_route_pass_pays_the_company_running_its_route(world, vexe):
    world.buy("single", route="32")
    world.buy("single", route="E05")
    world.buy("single", route="E05")
    answer = settle(vexe, world.day)
    rows = by_company(answer)
    assert set(rows) == {"A", "B"}
    assert rows["A"]["single_route_vnd"] == rows["A"]["amount_vnd"] == share(SINGLE, world.day)
    assert rows["B"]["amount_vnd"] == 2 * share(SINGLE, world.day)
    assert rows["B"]["passes"] == 2 and rows["B"]["company_name"] == "Bắc Hà"
    assert answer["revenue_vnd"] == 3 * share(SINGLE, world.day)


def test_the_days_of_a_month_add_up_to_the_price(world):
    first = world.day.replace(day=1)
    days = calendar.monthrange(first.year, first.month)[1]
    start, end = company_settlement.bounds(first)[0], company_settlement.bounds(
        first.replace(day=days))[1]
    for price in (SINGLE, MULTI, 1, 30, 31, 99_999):
        parts = [company_settlement.daily_share(price, start, end, first + dt.timedelta(d))
                 for d in range(days)]
        assert sum(parts) == price and max(parts) - min(parts) <= 1


def test_a_multi_route_pass_is_split_by_its_boardings_on_each_companys_vehicles(world, vexe):
    order = world.buy("multi")
    for _ in range(3):  # the validator named no company: the vehicle's, A
        world.ride(order.pass_id, "29B-100.01")
    world.ride(order.pass_id, "29B-200.02", company="B")
    world.ride(order.pass_id, "29B-200.02", decision="refuse")  # refused: not a boarding
    world.ride(order.pass_id, "29B-300.03", mode="alight")  # an alighting: not a boarding
    unused = world.buy("multi")  # not used yet: unallocated
    answer = settle(vexe, world.day)
    rows = by_company(answer)
    s = share(MULTI, world.day)
    assert set(rows) == {"A", "B", ""}
    a, b = rows["A"]["multi_route_vnd"], rows["B"]["multi_route_vnd"]
    assert a + b == s and a in (3 * s // 4, -(-3 * s // 4)) and b in (s // 4, -(-s // 4))
    assert (rows["A"]["multi_route_boardings"], rows["B"]["multi_route_boardings"]) == (3, 1)
    assert rows[""]["amount_vnd"] == s and rows[""]["passes"] == 1
    assert answer["revenue_vnd"] == 2 * s
    assert unused.pass_id  # issued, paid, and still not given to any company


def test_a_day_without_boardings_follows_the_boardings_since_the_pass_became_valid(world,
                                                                                    vexe):
    if world.day.day == 1:
        pytest.skip("the pass's first day: no earlier day to have ridden on")
    order = world.buy("multi")
    world.ride(order.pass_id, "29B-200.02", day=world.day - dt.timedelta(days=1))
    rows = by_company(settle(vexe, world.day))
    assert set(rows) == {"B"} and rows["B"]["amount_vnd"] == share(MULTI, world.day)
    assert rows["B"]["multi_route_boardings"] == 0


def test_rounding_gives_each_day_exactly_its_revenue(world, vexe):
    order = world.buy("multi")
    for plate in ("29B-100.01", "29B-200.02", "29B-300.03"):
        world.ride(order.pass_id, plate)
    world.buy("single", route="32")
    answer = settle(vexe, world.day)
    rows = by_company(answer)
    s = share(MULTI, world.day)
    thirds = sorted(r["multi_route_vnd"] for r in rows.values())
    assert sum(thirds) == s and thirds[-1] - thirds[0] <= 1 and thirds[0] == s // 3
    assert sum(r["amount_vnd"] for r in rows.values()) == answer["revenue_vnd"] == s + share(
        SINGLE, world.day)
    # Every day of the month: the companies' parts add up to the passes' parts, and the
    # month to the prices paid.
    first = world.day.replace(day=1)
    month = [first + dt.timedelta(d) for d in range(calendar.monthrange(first.year,
                                                                        first.month)[1])]
    totals = [sum(r["amount_vnd"] for r in company_settlement.day_rows(world.session, d))
              for d in month]
    assert totals == [share(MULTI, d) + share(SINGLE, d) for d in month]
    assert sum(totals) == MULTI + SINGLE


def test_free_and_unpaid_passes_bring_nothing_and_a_counter_refund_nothing_at_all(world, vexe):
    elder = world.api.account(birth_date="1950-01-01")
    free = passes.issue(world.session, elder["id"], "free", now=clock.now(), category="elderly")
    world.session.commit()
    world.ride(free.id, "29B-100.01")
    account = world.api.account()
    orders.create(world.session, account["id"], "multi",
                  orders.months_on_sale(clock.now(), 28)[0], now=clock.now(), open_day=28)
    assert settle(vexe, world.day) == {"day": world.day.isoformat(), "revenue_vnd": 0,
                                       "companies": []}
    paid = world.buy("single", route="32")
    assert by_company(settle(vexe, world.day))["A"]["amount_vnd"] == share(SINGLE, world.day)
    # At the counter the whole price goes back in cash: no money kept, none to settle, on
    # any day of the month, the days before the refund too.
    orders.refund(world.session, paid.id, "changed her mind", refunded_by="clerk:test",
                  now=clock.now())
    world.session.commit()
    assert [settle(vexe, d)["revenue_vnd"] for d in month_of(world.day)] == \
        [0] * len(month_of(world.day))


def test_a_refund_by_the_policy_settles_the_money_kept_to_the_dong(world, vexe):
    """The rider's refund gives back the whole days left after the day she asks: the days
    before earn their shares, the refund's day what is left of the money kept, none after;
    the month adds up to the price less the refund, as reconciliation counts it."""
    paid = world.buy("single", route="32")
    now = clock.now()
    back = refunds.quote(paid, now)
    orders.refund(world.session, paid.id, "moving away", refunded_by="rider:test", now=now)
    world.session.execute(sa.update(Order).where(Order.id == paid.id)
                          .values(refund_vnd=back))  # as issuer.sales.refunds records it
    world.session.commit()
    earned = {d: settle(vexe, d)["revenue_vnd"] for d in month_of(world.day)}
    assert sum(earned.values()) == SINGLE - back
    for d, amount in earned.items():
        if d < world.day:
            assert amount == share(SINGLE, d)
        elif d > world.day:
            assert amount == 0
    assert earned[world.day] == SINGLE - back - sum(share(SINGLE, d) for d in earned
                                                   if d < world.day)


def test_the_command_writes_csv_a_spreadsheet_reads_as_text(world, vexe):
    order = world.buy("multi")
    world.ride(order.pass_id, "29B-300.03")
    out = vexe.ok("settlement", "companies", "--day", world.day.isoformat(), "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["company"], r["company_name"], r["amount_vnd"]) for r in rows] == [
        ("C", "'=HYPERLINK(1)", str(share(MULTI, world.day)))]
    assert list(rows[0]) == list(company_settlement.COLUMNS)


def test_one_companys_line(world, vexe):
    world.buy("single", route="32")
    world.buy("single", route="E05")
    one = vexe.json("settlement", "companies", "--day", world.day.isoformat(), "--company", "b")
    assert [r["company"] for r in one["companies"]] == ["B"]
    assert one["revenue_vnd"] == 2 * share(SINGLE, world.day)  # the day's, all companies
    none = vexe.json("settlement", "companies", "--day", world.day.isoformat(), "--company", "C")
    assert none["companies"] == []


@pytest.mark.parametrize("day", ["yesterday", "2026-02-30", "2026-13-01", "03/12/2026", ""])
def test_a_bad_day_is_refused_with_a_clear_error(vexe, day):
    line = vexe.fails("settlement", "companies", "--day", day, code=2)
    assert "YYYY-MM-DD" in line


def test_an_unknown_company_or_no_day_is_refused(world, vexe):
    line = vexe.fails("settlement", "companies", "--day", world.day.isoformat(), "--company",
                      "NOPE", code=2)
    assert "no company" in line and "NOPE" in line
    missing = vexe.run("settlement", "companies")
    assert missing.exit_code == 2 and "Missing option '--day'" in missing.stderr


def test_the_settlement_page_shows_each_companys_money_in_one_language(world, staff):
    order = world.buy("multi")
    world.ride(order.pass_id, "29B-100.01")
    world.buy("single", route="E05")
    analyst = staff.browser("phan-tich", "analyst")
    day = world.day.isoformat()
    page = analyst.get(f"/console/ridership/settlement?from={day}&to={day}")
    assert page.status_code == 200
    assert "Doanh thu theo doanh nghiệp" in page.text and "Vé liên tuyến" in page.text
    assert "Revenue by company" not in page.text
    assert f"{share(MULTI, world.day):,}".replace(",", ".") + " ₫" in page.text
    analyst.set_cookie("vexe_lang", "en")
    english = analyst.get(f"/console/ridership/settlement?from={day}&to={day}")
    assert "Revenue by company" in english.text and "Doanh thu" not in english.text
    assert "split by its boardings that day" in english.text  # the rule, stated
    assert f"{share(SINGLE, world.day):,} ₫" in english.text
    exported = analyst.get(f"/console/ridership/settlement.csv?from={day}&to={day}")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert {r["company"]: int(r["amount_vnd"]) for r in rows} == {
        "A": share(MULTI, world.day), "B": share(SINGLE, world.day)}


def test_a_long_period_asks_for_a_shorter_one(world, staff):
    analyst = staff.browser("phan-tich", "analyst")
    long = {"from": "2026-01-01", "to": "2026-03-31"}
    page = analyst.get("/console/ridership/settlement", query_string=long,
                       headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "at most 31 days" in page.text
    assert analyst.get("/console/ridership/settlement.csv", query_string=long).status_code == 400
    bad = analyst.get("/console/ridership/settlement.csv", query_string={"from": "soon"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", ["clerk", "approver"])
def test_other_roles_are_refused(world, staff, role):
    other = staff.browser(f"nv-{role}", role)
    assert other.get("/console/ridership/settlement").status_code == 403
    assert other.get("/console/ridership/settlement.csv").status_code == 403


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_page_is_accessible_and_fits_a_staff_screen(world, staff, initialised, chromium,
                                                        lang):
    """In Chromium at 1366x900: axe finds nothing (WCAG 2.2 AA), nothing scrolls sideways."""
    browser_test = pytest.importorskip("tests.admin.test_admin_browser")
    order = world.buy("multi")
    world.ride(order.pass_id, "29B-100.01")
    world.buy("single", route="E05")
    staff.create("quan-tri", "analyst")  # the name the browser helper signs in with
    server = Served(create_app(initialised), free_port())
    try:
        page = browser_test.signed_in(chromium, server, lang)
        page.goto(server.url + "/console/ridership/settlement")
        page.locator("#money summary").click()
        assert page.locator("#money tbody tr").count() == 2 + 2  # totals, then by day
        browser_test.check(page, f"settlement ({lang})")
    finally:
        server.stop()
