"""The audit log, for administrators: filtered by actor, action, target and a range of days
(Hanoi time), a page at a time (newer, older), and the same selection as a CSV download
whose cells a spreadsheet reads as text, never as a formula (issuer.web.params)."""

from __future__ import annotations

import datetime as dt

import flask
import sqlalchemy as sa

from issuer.console.admin_forms import ADMIN, page, refused
from issuer.platform import audit, db
from issuer.platform.errors import Invalid, IssuerError
from issuer.platform.models import AuditEntry
from issuer.web import auth, params
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("admin_audit", __name__, url_prefix="/console/admin/audit")

PAGE = 50
CSV_ROWS = 10_000  # one download; a narrower filter reaches further back
FILTERS = ("actor", "action", "target")
FILTER_LENGTH = 200  # as /api/audit: a longer name is no entry's


def _filters() -> dict:
    """The filters as typed (kept on the page) and as a query's conditions."""
    typed = {name: flask.request.args.get(name, "").strip() for name in FILTERS + ("from", "to")}
    where = []
    for name in FILTERS:
        if len(typed[name]) > FILTER_LENGTH:
            raise Invalid(N_("%(name)s: at most %(most)s characters"), name=name,
                          most=FILTER_LENGTH)
        if typed[name]:
            where.append(getattr(AuditEntry, name) == typed[name])
    days = {}
    for name in ("from", "to"):
        if typed[name]:
            try:
                days[name] = dt.date.fromisoformat(typed[name])
            except ValueError:
                raise Invalid(N_("a date looks like 2026-12-31, got %(text)s"),
                              text=typed[name]) from None
    if "from" in days:
        where.append(AuditEntry.at >= _midnight(days["from"]))
    if "to" in days:
        where.append(AuditEntry.at < _midnight(days["to"] + dt.timedelta(days=1)))
    if "from" in days and "to" in days and days["from"] > days["to"]:
        raise Invalid(N_("the first day comes after the last"))
    return {"typed": typed, "where": where}


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=clock.HANOI).timestamp())


def _id_arg(name: str) -> int | None:
    text = flask.request.args.get(name, "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise Invalid(N_("%(name)s must be an entry number"), name=name)
    return int(text)


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    try:
        chosen = _filters()
        before, after = _id_arg("before"), _id_arg("after")
    except IssuerError as exc:
        typed = {name: flask.request.args.get(name, "")[:FILTER_LENGTH]
                 for name in FILTERS + ("from", "to")}
        return page("audit.html", refused(exc), typed=typed, rows=[], newer=None, older=None)
    session = db.get_session()
    query = sa.select(AuditEntry).where(*chosen["where"])
    if after is not None:  # the page before, newer: read upwards, shown newest first
        rows = list(session.scalars(query.where(AuditEntry.id > after)
                                    .order_by(AuditEntry.id).limit(PAGE)))[::-1]
    else:
        if before is not None:
            query = query.where(AuditEntry.id < before)
        rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE)))
    exists = lambda *cond: session.scalar(  # noqa: E731
        sa.select(AuditEntry.id).where(*chosen["where"], *cond).limit(1)) is not None
    typed = {k: v for k, v in chosen["typed"].items() if v}
    newer = older = None
    if rows and exists(AuditEntry.id > rows[0].id):
        newer = flask.url_for("admin_audit.index", after=rows[0].id, **typed)
    if rows and exists(AuditEntry.id < rows[-1].id):
        older = flask.url_for("admin_audit.index", before=rows[-1].id, **typed)
    return page("audit.html", typed=chosen["typed"], rows=rows, newer=newer, older=older,
                csv=flask.url_for("admin_audit.download", **typed))


@bp.get("/audit.csv")
@auth.require_roles(ADMIN)
def download():
    chosen = _filters()  # a malformed filter: 400, said by the API's error handler
    rows = db.get_session().scalars(sa.select(AuditEntry).where(*chosen["where"])
                                    .order_by(AuditEntry.id.desc()).limit(CSV_ROWS))
    out = [{**audit.as_dict(e), "at": clock.iso(e.at)} for e in rows]
    return params.csv_response(out, "audit", columns=["id", "at", "actor", "action", "target",
                                                      "reason"])
