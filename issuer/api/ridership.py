"""``/api/ridership``: every console table as JSON, or as CSV with ``?format=csv``.

Reading is for analysts and administrators (a pass's history also for clerks, who answer
riders' complaints); acting on an alert is for administrators.
"""

from __future__ import annotations

import flask

from backoffice import actions, clones, heartbeats, reports
from issuer.api import json_body, shapes
from issuer.identity import operators
from issuer.passes import catalogue
from issuer.platform import db
from issuer.platform.errors import Invalid
from shared.i18n import N_
from issuer.web import auth, params, publishing
from shared import clock

bp = flask.Blueprint("ridership_api", __name__, url_prefix="/api/ridership")

READERS = (operators.ANALYST, operators.ADMINISTRATOR)


def _table(name: str) -> tuple:
    """One console table: (what it covers, its rows[, notes for JSON]). Raises Invalid on bad
    parameters."""
    session = db.get_session()
    if name == "hourly":
        day = params.date_arg("date", params.today())
        return {"date": day.isoformat()}, reports.hourly(session, day)
    if name == "refusals-hourly":
        day = params.date_arg("date", params.today())
        return {"date": day.isoformat()}, reports.refusals_hourly(session, day)
    if name == "validators":
        return _validators(session)
    if name == "alerts":
        status = flask.request.args.get("status", "open")
        if status not in ("open", "dismissed", "revoked", "all"):
            raise Invalid(N_("status must be open, dismissed, revoked or all"))
        rows = reports.alerts(session, None if status == "all" else status)
        return {"status": status}, [_flat_alert(a) for a in rows]
    p = params.period_arg()
    if name == "routes":
        return p.as_dict(), reports.by_route(session, p, params.limit_arg())
    if name == "stops":
        return p.as_dict(), reports.by_stop(session, p, params.text_arg("route"),
                                             params.limit_arg())
    if name == "products":
        return p.as_dict(), reports.by_product(session, p)
    if name == "vehicles":
        return p.as_dict(), reports.by_vehicle(session, p, params.limit_arg())
    if name == "refusals":
        return p.as_dict(), reports.refusals(session, p)
    if name == "settlement":
        names = catalogue.product_names(session)
        return p.as_dict(), [catalogue.name_product(names, r)
                             for r in reports.settlement(session, p)]
    if name == "od":
        route = params.text_arg("route", required=True, most=16)
        return {**p.as_dict(), "route": route}, reports.od_rows(session, route, p)
    flask.abort(404)


def _validators(session) -> tuple:
    """A page of the table (``offset``, ``limit``: PAGE rows by default); a CSV is the whole
    fleet unless a ``limit`` is asked for. The JSON says how many there are in all, and how
    many are silent and flagged (those come first)."""
    csv = params.wants_csv()
    offset = params.offset_arg()
    limit = params.limit_arg(None if csv else reports.PAGE)
    beats, notes = heartbeats.read_or_note(flask.current_app.config["REDIS_URL"])
    fleet = reports.validators(session, now=clock.now(), beats=beats,
                               switched_off=notes.get("switched_off", ()))
    if csv:  # the values, in the columns' order: no dict per validator
        return {}, fleet.values(offset, limit), {}, reports.VALIDATOR_COLUMNS
    page = {"total": fleet.total, "offset": offset, "limit": limit,
            "stale": len(fleet.stale()), "flagged": len(fleet.flagged())}
    return {}, fleet.rows(offset, limit), {**notes, **page}


def _flat_alert(alert) -> dict:
    d = clones.as_dict(alert)
    return {"id": d["id"], "pass_id": d["pass_id"], "status": d["status"],
            "first_trip": d["first"]["trip_id"], "first_vehicle": d["first"]["vehicle"],
            "first_at_ms": d["first"]["at_ms"], "second_trip": d["second"]["trip_id"],
            "second_vehicle": d["second"]["vehicle"], "second_at_ms": d["second"]["at_ms"],
            "gap_s": d["gap_s"], "resolved_by": d["resolved_by"]}


TABLES = ("hourly", "refusals-hourly", "validators", "alerts", "routes", "stops", "products",
          "vehicles", "refusals", "settlement", "od")


def respond(name: str, covers: dict, rows: list, notes: dict | None = None,
            columns=None):
    """``notes``: how the rows were read, for the JSON only (the CSV is the rows).
    ``columns``: given for a CSV whose rows are lists of values in their order."""
    if params.wants_csv():
        suffix = "_".join(str(v) for v in covers.values())
        return params.csv_response(rows, f"{name}_{suffix}" if suffix else name, columns)
    body = {**covers, **(notes or {}), "rows": rows}
    if name == "od":
        body["matrix"] = reports.od_matrix(rows)
    return body


@bp.get("/<name>")
@auth.require_roles(*READERS)
def table(name: str):
    if name not in TABLES:
        flask.abort(404)
    params.wants_csv()  # a bad format is a 400 before any work
    return respond(name, *_table(name))


@bp.get("/passes/<pass_id>/history")
@auth.require_roles(operators.CLERK, *READERS)
def pass_history(pass_id: str):
    if len(pass_id) > 16:
        raise Invalid(N_("a pass id is at most 16 characters"))
    rows = reports.pass_history(db.get_session(), pass_id)
    return respond("history", {"pass_id": pass_id}, rows)


@bp.post("/alerts/<int:alert_id>/revoke")
@auth.require_roles(operators.ADMINISTRATOR)
def revoke(alert_id: int):
    json_body(shapes.Empty)
    session = db.get_session()
    now = clock.now()
    alert, published = actions.resolve_alert(session, auth.caller(), params.alert_id(alert_id),
                                             revoke=True, now=now,
                                             redis_url=flask.current_app.config["REDIS_URL"])
    return {**clones.as_dict(alert), **publishing.answer(published)}


@bp.post("/alerts/<int:alert_id>/dismiss")
@auth.require_roles(operators.ADMINISTRATOR)
def dismiss(alert_id: int):
    json_body(shapes.Empty)
    session = db.get_session()
    now = clock.now()
    alert, _ = actions.resolve_alert(session, auth.caller(), params.alert_id(alert_id),
                                     revoke=False, now=now,
                                     redis_url=flask.current_app.config["REDIS_URL"])
    return clones.as_dict(alert)
