"""``/console/settlement/companies``: one Hanoi day's pass revenue per bus company, with the
rule it follows and a CSV export (issuer.sales.company_settlement). Analysts and clerks."""

from __future__ import annotations

import flask

from issuer.identity import operators
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import company_settlement
from issuer.web import auth
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("console_company_settlement", __name__,
                     url_prefix="/console/settlement/companies")


@bp.get("/")
@auth.require_roles(operators.ANALYST, operators.CLERK)
def page():
    day = flask.request.args.get("day") or clock.iso(clock.now())[:10]
    company = flask.request.args.get("company") or None
    session = db.get_session()
    try:
        lines = company_settlement.rows(session, day, company=company)
    except IssuerError as exc:
        return flask.render_template("console/company_settlement.html",
                                     operator=auth.caller(), day=day[:10], lines=[],
                                     rule=company_settlement.RULE, error=said(exc)), 400
    if flask.request.args.get("format") == "csv":
        response = flask.make_response(company_settlement.as_csv(lines))
        response.content_type = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="settlement-companies-{lines[0]["day"] if lines else day}.csv"')
        return response
    return flask.render_template(
        "console/company_settlement.html", operator=auth.caller(), day=day, lines=lines,
        rule=company_settlement.RULE, error=None,
        total=sum(line["amount_vnd"] for line in lines))
