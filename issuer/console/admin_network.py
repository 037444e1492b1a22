"""The network, for administrators: routes (``vexe route``), bus companies and their
vehicles (``backoffice company`` / ``vehicle``): each listed, and added with the same checks
as the command line, audited."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, form, page, refused
from issuer.network import actions, fleet, routes
from issuer.platform import audit, db
from issuer.platform.errors import IssuerError
from issuer.web import auth, browser
from shared import clock

bp = flask.Blueprint("admin_network", __name__, url_prefix="/console/admin/network")
bp.before_request(browser.protect_form)


def _network_page(status: int = 200, typed: dict | None = None, form_name: str | None = None):
    session = db.get_session()
    return page("network.html", status, routes=routes.list_routes(session),
                companies=fleet.companies(session), vehicles=fleet.vehicles(session),
                typed=typed or {}, form_name=form_name)


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    return _network_page()


@bp.post("/routes")
@auth.require_roles(ADMIN)
def add_route():
    typed = form("code", "name")
    try:
        added = actions.add_route(db.get_session(), auth.caller(), typed["code"], typed["name"],
                                  now=clock.now())
    except IssuerError as exc:
        return _network_page(refused(exc), typed, "route")
    done(_("Route %(code)s added.", code=added.code))
    return flask.redirect(flask.url_for("admin_network.index"), 303)


@bp.post("/companies")
@auth.require_roles(ADMIN)
def add_company():
    typed = form("company_code", "company_name")
    session = db.get_session()
    now = clock.now()
    try:
        # fleet.add_company commits the company itself; its audit entry follows at once.
        with audit.action(session, auth.caller(), "company.add", now=now) as entry:
            added = fleet.add_company(session, typed["company_code"], typed["company_name"],
                                      now=now)
            entry.target = added.code
    except IssuerError as exc:
        return _network_page(refused(exc), typed, "company")
    done(_("Company %(code)s added.", code=added.code))
    return flask.redirect(flask.url_for("admin_network.index"), 303)


@bp.post("/vehicles")
@auth.require_roles(ADMIN)
def add_vehicle():
    typed = form("vehicle_code", "vehicle_company")
    session = db.get_session()
    now = clock.now()
    try:
        with audit.action(session, auth.caller(), "vehicle.add", now=now) as entry:
            added = fleet.add_vehicle(session, typed["vehicle_code"], typed["vehicle_company"],
                                      now=now)
            entry.target, entry.reason = added.code, f"company {added.company_code}"
    except IssuerError as exc:
        return _network_page(refused(exc), typed, "vehicle")
    done(_("Vehicle %(code)s added.", code=added.code))
    return flask.redirect(flask.url_for("admin_network.index"), 303)
