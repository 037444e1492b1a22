"""The network, for administrators: routes (``vexe route``), bus companies and their
vehicles (``vexe company`` / ``vehicle``): each listed, and added with the same checks
as the command line, audited."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, form, page, refused
from issuer.network import actions, fleet, routes
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.web import auth, browser
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("admin_network", __name__, url_prefix="/console/admin/network")
bp.before_request(browser.protect_form)


def _network_page(status: int = 200, typed: dict | None = None, form_name: str | None = None):
    session = db.get_session()
    return page("network.html", status, routes=routes.list_routes(session),
                companies=fleet.companies(session), vehicles=fleet.vehicles(session),
                typed=typed or {}, form_name=form_name)


def _add(form_name: str, fields: tuple[str, ...], add, said: str):
    """One of the page's forms: ``add`` (an action of :mod:`issuer.network.actions`, the
    change and its audit entry in one transaction) takes the ``fields`` as typed, in order.
    Refused, the page comes back with what was typed in that form; done, ``said`` is flashed
    with the new code."""
    typed = form(*fields)
    try:
        added = add(db.get_session(), auth.caller(), *(typed[name] for name in fields),
                    now=clock.now())
    except IssuerError as exc:
        return _network_page(refused(exc), typed, form_name)
    done(_(said, code=added.code))
    return flask.redirect(flask.url_for("admin_network.index"), 303)


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    return _network_page()


@bp.post("/routes")
@auth.require_roles(ADMIN)
def add_route():
    return _add("route", ("code", "name"), actions.add_route, N_("Route %(code)s added."))


@bp.post("/companies")
@auth.require_roles(ADMIN)
def add_company():
    return _add("company", ("company_code", "company_name"), actions.add_company,
                N_("Company %(code)s added."))


@bp.post("/vehicles")
@auth.require_roles(ADMIN)
def add_vehicle():
    return _add("vehicle", ("vehicle_code", "vehicle_company"), actions.add_vehicle,
                N_("Vehicle %(code)s added."))
