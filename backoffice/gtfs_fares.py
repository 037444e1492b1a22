"""vexe's catalogue as GTFS-Fares v2 files (https://gtfs.org/schedule/reference/):
``rider_categories.txt``, ``fare_media.txt`` and ``fare_products.txt``, for a trip planner
to read beside the network's GTFS feed.

- Riders: ``general`` (full fare, the default category) and each fare category of the
  catalogue under its own code (``student``, ``elderly``...), named in Vietnamese as the
  feed's names are.
- One fare medium: the pass on the rider's phone, a rotating QR code (type 4, mobile app).
- Products: each product the catalogue sells at full fare to ``general`` riders and at
  its reduced prices to the categories that have one; the free pass is one product per
  free category (``free:elderly``...), so that each product has one rider category or the
  default one among its categories, as the reference requires. Amounts in whole VND (the
  dong has no minor unit).

Which routes a single-route pass covers, and that a pass is monthly, is not said here: the
reference says it with fare leg rules and timeframes, which need the feed's network ids.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes.catalogue import FREE, FREE_PRODUCT
from issuer.platform.errors import Invalid
from issuer.platform.models import FareCategory, Product, ProductPrice

CURRENCY = "VND"
GENERAL = "general"  # the riders who pay the full fare: the default category
GENERAL_NAME = "Hành khách phổ thông"
MEDIUM = "vexe_app"
MEDIUM_NAME = "Thẻ vé điện tử trên điện thoại (mã QR)"
MOBILE_APP = 4  # fare_media_type

RIDER_CATEGORIES = ("rider_category_id", "rider_category_name", "is_default_fare_category",
                    "eligibility_url")
FARE_MEDIA = ("fare_media_id", "fare_media_name", "fare_media_type")
FARE_PRODUCTS = ("fare_product_id", "fare_product_name", "rider_category_id", "fare_media_id",
                 "amount", "currency")


def fare_product_id(product: str, category: str | None) -> str:
    """The GTFS id of what a pass is: its product, and for a free pass its category too."""
    return f"{product}:{category}" if product == FREE_PRODUCT and category else product


def tables(session: Session, eligibility_url: str | None = None) -> dict[str, list[tuple]]:
    """The three files' rows (header first), from the catalogue as the database has it."""
    if eligibility_url is not None:
        _check_url(eligibility_url)
    categories = list(session.scalars(sa.select(FareCategory).order_by(FareCategory.code)))
    riders = [RIDER_CATEGORIES, (GENERAL, GENERAL_NAME, 1, "")]
    riders += [(c.code, c.name_vi, 0, eligibility_url or "") for c in categories]
    reduced = {(p.product, p.category): p.price_vnd
               for p in session.scalars(sa.select(ProductPrice))}
    products = [FARE_PRODUCTS]
    for product in session.scalars(sa.select(Product).order_by(Product.price_vnd,
                                                                Product.code)):
        if product.code == FREE_PRODUCT:
            products += [(fare_product_id(product.code, c.code), f"{product.name_vi}: {c.name_vi}",
                          c.code, MEDIUM, 0, CURRENCY) for c in categories if c.kind == FREE]
            continue
        products.append((product.code, product.name_vi, GENERAL, MEDIUM, product.price_vnd,
                         CURRENCY))
        products += [(product.code, product.name_vi, c.code, MEDIUM,
                      reduced[product.code, c.code], CURRENCY)
                     for c in categories if (product.code, c.code) in reduced]
    return {"rider_categories": riders,
            "fare_media": [FARE_MEDIA, (MEDIUM, MEDIUM_NAME, MOBILE_APP)],
            "fare_products": products}


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(
            c.isspace() or c in ',"' for c in url):
        raise Invalid(f"the eligibility URL must be an http(s) URL, got {url!r}")


def export(session: Session, out: Path, eligibility_url: str | None = None) -> dict:
    """Write the files into ``out`` (created if missing); each appears whole (written
    aside, then renamed). Returns how many rows each has."""
    rows = tables(session, eligibility_url)
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in rows.items():
        aside = out / f".{name}.txt.{os.getpid()}.tmp"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o644)  # public data; never through a file or link left under that name
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            csv.writer(file, lineterminator="\r\n").writerows(lines)
        os.replace(aside, out / f"{name}.txt")
    return {"out": str(out), **{f"{name}.txt": len(lines) - 1 for name, lines in rows.items()}}
