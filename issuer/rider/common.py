"""What every rider page shows the same way: products and fare categories by their names in
the rider's language."""

from __future__ import annotations

import flask

from issuer.platform import db
from issuer.platform.models import FareCategory, Product
from issuer.web import language, words


def context() -> dict:
    """For a rider blueprint's context processor."""

    def product_name(code: str | None) -> str:
        found = db.get_session().get(Product, code) if code else None
        return words.named(found, language.current()) if found else (code or "")

    def category_name(code: str | None) -> str:
        found = db.get_session().get(FareCategory, code) if code else None
        return words.named(found, language.current()) if found else (code or "")

    return {"product_name": product_name, "category_name": category_name}


def init(bp: flask.Blueprint) -> None:
    bp.context_processor(context)
