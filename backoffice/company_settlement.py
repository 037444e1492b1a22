"""Settlement in money per bus company, for one Hanoi day, from the sales and the ridership
already recorded (orders, passes, routes, trips, vehicles). It lives in the back office
because it reads the trips (ridership's tables), beside :func:`backoffice.reports.settlement`,
the boardings the page shows under it.

The rule (the console's settlement page says it in words, ``RULE``):

1. Revenue. A paid order's price is recognised evenly over the days its pass is valid (a
   monthly pass: the days of its calendar month). Day ``i`` of ``n`` earns
   ``price*(i+1)//n - price*i//n`` đồng, so the days of a pass add up to its price exactly.
   A free pass (no order, or a price of 0) brings nothing. A refunded order earns what the
   operator kept of it (its price less the refund; a refund at the counter gives the whole
   price back): day by day as above, until that is used up, the Hanoi day of the refund
   taking what is left of it (the refund policy keeps that day), and nothing after. So a
   month's days add up to the money kept, to the đồng, as reconciliation counts it. An
   order that was never paid (pending, expired, cancelled) earns nothing. A pass revoked
   without a refund (fraud) keeps earning: the money was kept.
2. A single-route pass's daily share goes to the company running its route
   (``routes.company_code``).
3. A multi-route pass's daily share is split between companies in proportion to its
   accepted boardings that day on each company's vehicles (the company the validator
   named, else the vehicle's). On a day it was not used, by its boardings since its first
   valid day up to the end of that day. A pass not used at all yet, a route with no
   company, a boarding on a vehicle of no known company: that part is ``unallocated``
   (company ""), shown on its own line for the authority to decide, never guessed.
4. Whole đồng. Each company's exact share of the day (a fraction) is rounded down and the
   đồng left over go one each to the largest remainders (ties: by company code), so the
   companies' amounts add up exactly to the day's revenue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Trip
from issuer.platform.errors import Invalid
from issuer.platform.models import Company, Order, Pass, Route, Vehicle
from issuer.sales import orders
from shared import clock
from shared.i18n import N_
from shared.trip import ACCEPT, BOARD

UNALLOCATED = ""  # the company code of revenue no company can be given
COLUMNS = ("date", "company", "company_name", "single_route_vnd", "multi_route_vnd",
           "amount_vnd", "passes", "multi_route_boardings")
CHUNK = 500  # pass ids in one IN (...): well under every database's limit on parameters

RULE = N_(
    "A pass's price is counted evenly over the days it is valid (a monthly pass: price ÷ days "
    "of its month, in whole đồng that add up to the price). A single-route pass's share of "
    "the day goes to the company running its route. A multi-route pass's share is split by "
    "its boardings that day on each company's vehicles; on a day it was not used, by its "
    "boardings since it became valid. Free passes bring nothing; a refunded pass brings only "
    "the money kept (its price less the refund), day by day until the day of the refund, "
    "and nothing after. What cannot be given to a company (a pass not used "
    "yet, a route or vehicle of no company) is shown as unallocated. Each company's amount "
    "is rounded to the đồng so that the day's amounts add up exactly to the day's revenue.")


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid(N_("the date must look like YYYY-MM-DD, got %(got)s"),
                      got=repr(text)) from None


def bounds(day: dt.date) -> tuple[int, int]:
    """Unix seconds of 00:00 Hanoi time on ``day`` and on the next day."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=clock.HANOI)
    return int(start.timestamp()), int((start + dt.timedelta(days=1)).timestamp())


def _date(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, clock.HANOI).date()


def daily_share(price: int, valid_from: int, valid_until: int, day: dt.date) -> int:
    """What a pass of ``price`` valid over [valid_from, valid_until) earns on ``day``."""
    first, last = _date(valid_from), _date(valid_until - 1)
    n, i = (last - first).days + 1, (day - first).days
    if not 0 <= i < n:
        return 0
    return price * (i + 1) // n - price * i // n


def earned(price: int, valid_from: int, valid_until: int, day: dt.date, *,
           refunded_at: int | None = None, refund_vnd: int | None = None) -> int:
    """What a paid order's pass earns on ``day``: its daily share; once refunded, out of the
    money kept (``price - refund_vnd``; None: the whole price went back), the day of the
    refund taking what is left of it."""
    share = daily_share(price, valid_from, valid_until, day)
    if refunded_at is None:
        return share
    refund_day = _date(refunded_at)
    if day > refund_day:
        return 0
    kept = price - (price if refund_vnd is None else refund_vnd)
    first, last = _date(valid_from), _date(valid_until - 1)
    n = (last - first).days + 1
    before = min(max((day - first).days, 0), n)  # the pass's days before this one
    left = max(0, kept - price * before // n)  # kept less what those days earned
    return left if day == refund_day else min(share, left)


def allocate(total: int, exact: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder: whole đồng per company adding up to ``total`` (= sum of exact)."""
    whole = {c: int(v) for c, v in exact.items()}  # Fractions here are >= 0: int() floors
    left = total - sum(whole.values())
    for c in sorted(exact, key=lambda c: (-(exact[c] - whole[c]), c))[:left]:
        whole[c] += 1
    return whole


def day_rows(session: Session, day: dt.date) -> list[dict]:
    """Each company's money for ``day`` (one row per company with anything, the unallocated
    part last), as :data:`COLUMNS`."""
    start, end = bounds(day)
    earning = session.execute(
        sa.select(Pass.id, Order.price_vnd, Pass.valid_from, Pass.valid_until,
                  Order.route_code, Route.company_code, Order.refunded_at, Order.refund_vnd)
        .select_from(Order)
        .join(Pass, Pass.id == Order.pass_id)
        .outerjoin(Route, Route.code == Order.route_code)
        .where(Order.status.in_((orders.PAID, orders.REFUNDED)), Order.price_vnd > 0,
               sa.or_(sa.and_(Pass.valid_from < end, Pass.valid_until > start),
                      # the refund's day takes what is left of the money kept
                      Order.refunded_at.between(start, end - 1)),
               sa.or_(Order.refunded_at.is_(None), Order.refunded_at >= start))).all()
    single: dict[str, int] = defaultdict(int)
    multi: dict[str, Fraction] = defaultdict(Fraction)
    passes: dict[str, set] = defaultdict(set)
    shares = {}
    for pass_id, price, valid_from, valid_until, route, company, refunded_at, refund_vnd \
            in earning:
        share = earned(price, valid_from, valid_until, day, refunded_at=refunded_at,
                       refund_vnd=refund_vnd)
        if not share:
            continue
        if route is not None:
            single[company or UNALLOCATED] += share
            passes[company or UNALLOCATED].add(pass_id)
        else:
            shares[pass_id] = share
    today = _boardings(session, list(shares), start * 1000, end * 1000, since_valid=False)
    unused = [p for p in shares if p not in today]
    earlier = _boardings(session, unused, 0, end * 1000, since_valid=True)
    day_boardings: dict[str, int] = defaultdict(int)
    for pass_id, share in shares.items():
        counts = today.get(pass_id) or earlier.get(pass_id) or {UNALLOCATED: 1}
        total = sum(counts.values())
        for company, n in counts.items():
            multi[company] += Fraction(share * n, total)
            passes[company].add(pass_id)
        for company, n in today.get(pass_id, {}).items():
            day_boardings[company] += n
    multi_whole = allocate(sum(shares.values()), dict(multi))
    names = dict(session.execute(sa.select(Company.code, Company.name)).all())
    companies = sorted(set(single) | set(multi_whole), key=lambda c: (c == UNALLOCATED, c))
    return [{"date": day.isoformat(), "company": c, "company_name": names.get(c, ""),
             "single_route_vnd": single.get(c, 0), "multi_route_vnd": multi_whole.get(c, 0),
             "amount_vnd": single.get(c, 0) + multi_whole.get(c, 0),
             "passes": len(passes[c]),
             "multi_route_boardings": day_boardings.get(c, 0)}
            for c in companies if single.get(c, 0) or multi_whole.get(c, 0)]


def _boardings(session: Session, pass_ids: list[str], lo_ms: int, hi_ms: int, *,
               since_valid: bool) -> dict[str, dict[str, int]]:
    """{pass: {company: accepted boardings}} in [lo_ms, hi_ms) (and, ``since_valid``, not
    before the pass became valid)."""
    company = sa.func.coalesce(sa.func.nullif(Trip.company, ""), Vehicle.company_code,
                               UNALLOCATED)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for i in range(0, len(pass_ids), CHUNK):
        query = (sa.select(Trip.pass_id, company, sa.func.count())
                 .select_from(Trip).outerjoin(Vehicle, Vehicle.code == Trip.vehicle)
                 .where(Trip.pass_id.in_(pass_ids[i:i + CHUNK]), Trip.decision == ACCEPT,
                        Trip.mode == BOARD, Trip.at_ms >= lo_ms, Trip.at_ms < hi_ms)
                 .group_by(Trip.pass_id, company))
        if since_valid:
            query = query.join(Pass, Pass.id == Trip.pass_id).where(
                Trip.at_ms >= Pass.valid_from * 1000)
        for pass_id, code, n in session.execute(query):
            out[pass_id][code] = out[pass_id].get(code, 0) + n
    return out


def period_rows(session: Session, first: dt.date, last: dt.date) -> list[dict]:
    rows, day = [], first
    while day <= last:
        rows += day_rows(session, day)
        day += dt.timedelta(days=1)
    return rows


def totals(rows: list[dict]) -> list[dict]:
    """The rows summed per company (over a period's days)."""
    out: dict[str, dict] = {}
    for r in rows:
        t = out.setdefault(r["company"], {"company": r["company"],
                                          "company_name": r["company_name"],
                                          "single_route_vnd": 0, "multi_route_vnd": 0,
                                          "amount_vnd": 0, "multi_route_boardings": 0})
        for key in ("single_route_vnd", "multi_route_vnd", "amount_vnd",
                    "multi_route_boardings"):
            t[key] += r[key]
    return sorted(out.values(), key=lambda t: (t["company"] == UNALLOCATED, t["company"]))

