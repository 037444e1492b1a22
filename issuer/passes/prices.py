"""Changing what the catalogue charges: a product's full price, and its reduced price for a
fare category (added when the product had none). One unit of work with its audit entry,
which keeps the old price. Orders already made keep the price they were made at."""

from __future__ import annotations

from sqlalchemy.orm import Session

from issuer.passes import catalogue
from issuer.platform import audit
from issuer.platform.errors import Invalid
from issuer.platform.models import ProductPrice
from shared.i18n import N_

MOST = 10_000_000  # VND: a month of every route costs a few hundred thousand


def check_price(value) -> int:
    """A whole number of đồng, from 0 to MOST, as typed in a form or given by a program."""
    text = value.strip().replace(".", "").replace(",", "") if isinstance(value, str) else value
    if isinstance(text, str):
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise Invalid(N_("a price is a whole number of đồng, got %(text)s"), text=value)
        text = int(text)
    if not isinstance(text, int) or isinstance(text, bool) or not 0 <= text <= MOST:
        raise Invalid(N_("a price is 0 to %(most)s đồng"), most=f"{MOST:,}")
    return text


def set_price(session: Session, actor, product: str, category: str | None, price_vnd, *,
              now: float) -> int:
    """Set the full price (``category`` None) or the reduced price for ``category``."""
    price = check_price(price_vnd)
    target = product if category is None else f"{product}/{category}"
    with audit.action(session, actor, "catalogue.price", now=now, target=target) as entry:
        row = catalogue.product(session, product)
        if category is None:
            old, row.price_vnd = row.price_vnd, price
        else:
            catalogue.category(session, category, catalogue.REDUCED)
            reduced = session.get(ProductPrice, (row.code, category))
            if reduced is None:
                old = None
                session.add(ProductPrice(product=row.code, category=category, price_vnd=price))
            else:
                old, reduced.price_vnd = reduced.price_vnd, price
        entry.reason = f"{old} -> {price} VND"
    return price
