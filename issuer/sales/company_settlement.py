"""Settlement in money per bus company, for one Hanoi day.

The rule (stated to operators on the console page, RULE):
- A paid monthly pass earns, each day of its month, its order's price divided by the
  month's days. A refunded order earns nothing; a free pass earns nothing.
- A single-route pass's day goes to the company running its route.
- A multi-route pass's day is shared among companies by its holder's boardings that day on
  each company's vehicles; a day it was not used is listed as not allocated.
- Amounts are whole dong: the day's total is rounded to the dong, then shared by largest
  remainder, so the lines add up exactly to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.network import fleet
from issuer.platform.errors import Invalid
from issuer.platform.models import Order, Pass, Route, Vehicle
from issuer.sales import orders
from shared import clock
from shared.i18n import N_

# The ridership the ingest writes (backoffice.models.Trip), as far as this reads it: the issuer
# reads the table, it does not own it.
Trip = sa.table("trips", sa.column("pass_id"), sa.column("vehicle"), sa.column("at_ms"),
                sa.column("decision"), sa.column("mode"))
UNALLOCATED = "-"  # the line of multi-route days with no boarding
RULE = N_("A paid monthly pass earns each day its price divided by the days of its month. "
          "A single-route pass's day goes to the company running its route; a multi-route "
          "pass's day is shared by its holder's boardings that day on each company's "
          "vehicles (a day with no boarding is shown as not allocated). Amounts are whole "
          "dong, shared by largest remainder so that they add up exactly to the day's "
          "revenue.")


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid(N_("%(day)s is not a day: give YYYY-MM-DD"), day=str(text)[:20]) from None


def shares(session: Session, day: dt.date) -> dict[str, Fraction]:
    """Each company's exact share of the day's revenue (UNALLOCATED for unused days)."""
    start = int(dt.datetime.combine(day, dt.time(), clock.HANOI).timestamp())
    end = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(),
                                  clock.HANOI).timestamp())
    paid = session.execute(
        sa.select(Pass.id, Pass.product, Pass.valid_from, Pass.valid_until, Order.price_vnd,
                  Route.company_code)
        .join(Order, Order.pass_id == Pass.id)
        .outerjoin(Route, Route.code == Pass.route_code)
        .where(Order.status == orders.PAID, Pass.valid_from < end, Pass.valid_until > start,
               Order.product.in_(orders.MONTHLY_PRODUCTS))).all()
    multi = [row.id for row in paid if row.product == "multi"]
    boardings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if multi:
        for pass_id, company, count in session.execute(
                sa.select(Trip.c.pass_id, Vehicle.company_code, sa.func.count())
                .select_from(Trip)
                .join(Vehicle, Vehicle.code == Trip.c.vehicle)
                .where(Trip.c.pass_id.in_(multi), Trip.c.decision == "accept",
                       Trip.c.mode == "board", Trip.c.at_ms >= start * 1000,
                       Trip.c.at_ms < end * 1000)
                .group_by(Trip.c.pass_id, Vehicle.company_code)):
            boardings[pass_id][company] += count
    out: dict[str, Fraction] = defaultdict(Fraction)
    for row in paid:
        daily = Fraction(row.price_vnd * 86400, row.valid_until - row.valid_from)
        if row.product == "single":
            out[row.company_code or UNALLOCATED] += daily
            continue
        used = boardings.get(row.id)
        if not used:
            out[UNALLOCATED] += daily
            continue
        total = sum(used.values())
        for company, count in used.items():
            out[company] += daily * count / total
    return dict(out)


def whole_dong(exact: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder: the total rounded to the dong, shared so the parts add up to it."""
    total = int(sum(exact.values(), Fraction(0)) + Fraction(1, 2))
    floors = {k: int(v) for k, v in exact.items()}
    left = total - sum(floors.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))[:left]:
        floors[key] += 1
    return floors


def rows(session: Session, day: str, company: str | None = None) -> list[dict]:
    """The day's lines, one a company (and the not-allocated line), by code; or one
    company's line only (NotFound for a company that does not exist)."""
    when = parse_day(day)
    if company is not None:
        company = fleet.get_company(session, company).code
    amounts = whole_dong(shares(session, when))
    return [{"day": when.isoformat(), "company": code, "amount_vnd": amount}
            for code, amount in sorted(amounts.items()) if company in (None, code)]


def as_csv(lines: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["day", "company", "amount_vnd"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue()
