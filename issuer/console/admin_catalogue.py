"""The catalogue, for administrators: products and their full prices, reduced prices for
fare categories, and the categories' rules; prices are changed here
(issuer.passes.prices), audited."""

from __future__ import annotations

import flask
import sqlalchemy as sa
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, form, page, refused
from issuer.passes import catalogue, prices
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.platform.models import FareCategory, Product
from issuer.web import auth, browser
from shared import clock

bp = flask.Blueprint("admin_catalogue", __name__, url_prefix="/console/admin/catalogue")
bp.before_request(browser.protect_form)


def _catalogue_page(status: int = 200, typed: dict | None = None):
    session = db.get_session()
    shown = catalogue.as_dict(session)  # the prices, as the API and the rider's pages see them
    rows = {p.code: p for p in session.scalars(sa.select(Product))}
    categories = list(session.scalars(sa.select(FareCategory).order_by(FareCategory.code)))
    return page("catalogue.html", status, products=[(p, rows[p["code"]]) for p in shown["products"]],
                categories=categories,
                reduced=[c for c in categories if c.kind == catalogue.REDUCED],
                typed=typed or {})


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    return _catalogue_page()


@bp.post("/prices")
@auth.require_roles(ADMIN)
def set_price():
    typed = form("product", "category", "price")
    try:
        price = prices.set_price(db.get_session(), auth.caller(), typed["product"],
                                 typed["category"] or None, typed["price"], now=clock.now())
    except IssuerError as exc:
        return _catalogue_page(refused(exc), typed)
    done(_("Price saved: %(price)s.", price=flask.current_app.jinja_env.filters["vnd"](price)))
    return flask.redirect(flask.url_for("admin_catalogue.index"), 303)
