"""The catalogue as data: products and their prices, reduced prices for fare categories, and
the categories' eligibility rules (``fare_categories``, seeded by migration 0004 and changed
by administrators, not by code)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.platform.errors import Invalid, Named
from shared.i18n import N_
from issuer.platform.models import Account, FareCategory, Product, ProductPrice
from shared import clock

REDUCED = "reduced"
FREE = "free"
FREE_PRODUCT = "free"


def product(session: Session, code: str) -> Product:
    found = session.get(Product, code) if isinstance(code, str) else None
    if found is None:
        names = ", ".join(session.scalars(sa.select(Product.code).order_by(Product.code)))
        raise Invalid(N_("product must be one of %(products)s, got %(got)s"), products=names,
                      got=repr(code))
    return found


def category(session: Session, code: str, kind: str | None = None) -> FareCategory:
    found = session.get(FareCategory, code) if isinstance(code, str) else None
    if found is None or (kind is not None and found.kind != kind):
        query = sa.select(FareCategory.code).order_by(FareCategory.code)
        if kind is not None:
            query = query.where(FareCategory.kind == kind)
        known = ", ".join(session.scalars(query))
        if kind == FREE:
            raise Invalid(N_("a free fare category must be one of %(categories)s, got %(got)s"),
                          categories=known, got=repr(code))
        if kind == REDUCED:
            raise Invalid(N_("a reduced fare category must be one of %(categories)s, "
                             "got %(got)s"), categories=known, got=repr(code))
        raise Invalid(N_("a fare category must be one of %(categories)s, got %(got)s"),
                      categories=known, got=repr(code))
    return found


def price(session: Session, product_code: str, category_code: str | None) -> int:
    """What the product costs, in VND, for riders of ``category_code`` (None: full fare)."""
    full = product(session, product_code)
    if category_code is None:
        return full.price_vnd
    reduced = session.get(ProductPrice, (product_code, category_code))
    if reduced is None:
        raise Invalid(N_("product %(product)s has no reduced price for %(category)s"),
                      product=product_code, category=repr(category_code))
    return reduced.price_vnd


def age_rule_text(rule: FareCategory) -> str | None:
    if rule.min_age is not None and rule.max_age is not None:
        return f"ages {rule.min_age} to {rule.max_age}"
    if rule.min_age is not None:
        return f"ages {rule.min_age} and over"
    if rule.max_age is not None:
        return f"ages up to {rule.max_age}"
    return None


def check_age(rule: FareCategory, account: Account, at: float) -> None:
    """Invalid unless the account holder's age at ``at`` (Hanoi date) fits the category."""
    age = accounts.age_on(account, dt.datetime.fromtimestamp(at, clock.HANOI).date())
    if ((rule.min_age is not None and age < rule.min_age)
            or (rule.max_age is not None and age > rule.max_age)):
        said = {"category": Named(rule.code, rule), "least": rule.min_age,
                "most": rule.max_age, "age": age}
        if rule.min_age is not None and rule.max_age is not None:
            raise Invalid(N_("category %(category)s is for ages %(least)s to %(most)s; "
                             "the account holder is %(age)s"), **said)
        if rule.min_age is not None:
            raise Invalid(N_("category %(category)s is for ages %(least)s and over; "
                             "the account holder is %(age)s"), **said)
        raise Invalid(N_("category %(category)s is for ages up to %(most)s; "
                         "the account holder is %(age)s"), **said)


def as_dict(session: Session) -> dict:
    prices = {(row.product, row.category): row.price_vnd
              for row in session.scalars(sa.select(ProductPrice))}
    categories = list(session.scalars(sa.select(FareCategory).order_by(FareCategory.code)))
    products = []
    for row in session.scalars(sa.select(Product).order_by(Product.price_vnd, Product.code)):
        products.append({
            "code": row.code, "name_vi": row.name_vi, "name_en": row.name_en,
            "price_vnd": row.price_vnd, "needs_route": row.code == "single",
            "reduced_prices": {c.code: prices[(row.code, c.code)] for c in categories
                               if (row.code, c.code) in prices}})
    return {"products": products, "categories": [
        {"code": c.code, "kind": c.kind, "name_vi": c.name_vi, "name_en": c.name_en,
         "min_age": c.min_age, "max_age": c.max_age, "needs_approval": c.needs_approval,
         "validity_months": c.validity_months} for c in categories]}


UNREADABLE = "(unreadable)"  # the product of a scan whose QR could not be read


def product_names(session: Session) -> dict[str, tuple[str, str]]:
    """Display names (Vietnamese, English) of what ridership counts by: each product by its
    code, and each free-pass category as ``free:<category>`` (free passes are counted by
    category)."""
    products = {row.code: (row.name_vi, row.name_en) for row in session.scalars(sa.select(Product))}
    names = dict(products)
    free_vi, free_en = products.get(FREE_PRODUCT, ("Miễn phí", "Free"))
    for c in session.scalars(sa.select(FareCategory).where(FareCategory.kind == FREE)):
        names[f"{FREE_PRODUCT}:{c.code}"] = (f"{free_vi}: {c.name_vi}", f"{free_en}: {c.name_en}")
    names[UNREADABLE] = ("(QR không đọc được)", "(QR unreadable)")
    return names


def name_product(names: dict[str, tuple[str, str]], row: dict) -> dict:
    """``row`` with ``name_vi`` and ``name_en`` after its ``product`` code. A code the
    catalogue no longer has (a category since removed) is its own name."""
    vi, en = names.get(row["product"], (row["product"], row["product"]))
    out = {}
    for key, value in row.items():
        out[key] = value
        if key == "product":
            out["name_vi"], out["name_en"] = vi, en
    return out
