"""``/console/ridership``: the operator's ridership pages.

Each panel is a chart drawn by Chart.js from data in the page, the same data as a table
beneath it (readable without JavaScript, and by screen readers), and a link to its CSV. The
map of stops is an SVG drawn on the server (``stop_map``), with its table too.
"""

from __future__ import annotations

import datetime as dt

import flask

from backoffice import actions, clones, company_settlement, heartbeats, places, reports
from issuer.console import stop_map as stop_map_drawing
from issuer.identity import operators
from issuer.passes import catalogue, revocation
from issuer.platform import db
from issuer.platform.errors import Invalid, IssuerError
from flask_babel import gettext as _

from issuer.web import auth, browser, language, params, publishing
from issuer.web.language import said
from shared import clock, i18n
from shared.i18n import N_

bp = flask.Blueprint("ridership_console", __name__, url_prefix="/console/ridership",
                     template_folder="templates", static_folder="static")
bp.before_request(browser.protect_form)

VENDOR = {"chart.js": browser.VENDOR / "chart.umd.min.js"}

READERS = (operators.ANALYST, operators.ADMINISTRATOR)

# (endpoint, label): the ridership menu; the label is translated where shown.
MENU = [
    ("ridership_console.dashboard", N_("Ridership")),
    ("ridership_console.od", N_("Origin–destination")),
    ("ridership_console.stop_map", N_("Map of stops")),
    ("ridership_console.settlement", N_("Settlement")),
    ("ridership_console.validators", N_("Validators")),
    ("ridership_console.history", N_("Pass history")),
    ("ridership_console.alerts", N_("Cloned-pass alerts")),
]

@bp.get("/vendor/<name>")
def vendor(name: str):
    path = VENDOR.get(name)
    if path is None or not path.exists():
        flask.abort(404)
    return flask.send_file(path, mimetype="text/javascript", max_age=86400)


def _render(template: str, **context):
    return flask.render_template(f"ridership/{template}", operator=auth.caller(), menu=MENU,
                                 **context)


def _api(name: str, **args) -> str:
    return flask.url_for("ridership_api.table", name=name, format="csv", **args)


def _panel(key: str, title: str, rows: list[dict], columns: list[tuple[str, str]],
           chart: dict | None, csv: str) -> dict:
    """A chart and its table; ``title`` and the columns' labels already in the page's
    language."""
    return {"key": key, "title": title, "rows": rows, "columns": columns, "chart": chart,
            "csv": csv}


def _bars(rows: list[dict], label: str, series: list[tuple[str, str]], kind: str = "bar",
          horizontal: bool = False) -> dict:
    return {"type": kind, "horizontal": horizontal, "labels": [str(r[label]) for r in rows],
            "datasets": [{"label": name, "data": [r[key] for r in rows]} for key, name in series]}


def _counts() -> list[tuple[str, str]]:
    return [("boardings", _("Boardings")), ("alightings", _("Alightings")),
            ("refusals", _("Refusals"))]


@bp.get("/")
@auth.require_roles(*READERS)
def dashboard():
    session = db.get_session()
    try:
        day = params.date_arg("date", params.today())
        p = reports.period(day, day)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        day = params.today()
        p = reports.period(day, day)
    hourly = reports.hourly(session, day)
    products = [{**r, "name": _name(r)} for r in reports.by_product(session, p)]
    routes = reports.by_route(session, p, limit=15)
    stops = reports.by_stop(session, p, limit=15)
    refusals = [{**r, "message": r.get(f"message_{language.current()}") or r["reason"]}
                for r in reports.refusals(session, p)]
    arg = {"from": p.start.isoformat(), "to": p.end.isoformat()}
    panels = [
        _panel("hourly", _("Boardings per hour, against the same weekday last week"), hourly,
               [("hour", _("Hour")), ("boardings", _("Boardings")),
                ("boardings_last_week", _("Last week")),
                ("alightings", _("Alightings")), ("refusals", _("Refusals"))],
               _bars(hourly, "hour", [("boardings", _("Today")),
                                      ("boardings_last_week", _("Last week"))], "line"),
               _api("hourly", date=day.isoformat())),
        _panel("products", _("By product"), products,
               [("name", _("Product")), ("product", _("Code")), *_counts()],
               _bars(products, "name", [("boardings", _("Boardings"))], "doughnut"),
               _api("products", **arg)),
        _panel("routes", _("Top routes"), routes,
               [("route", _("Route")), ("route_name", _("Route name")), *_counts()],
               _bars(routes, "route", [("boardings", _("Boardings")),
                                       ("alightings", _("Alightings"))], horizontal=True),
               _api("routes", **arg)),
        _panel("stops", _("Top stops"), stops,
               [("stop_name", _("Stop")), ("routes", _("Routes")), *_counts(),
                ("stop", _("Code"))],
               _bars(stops, "stop_name", [("boardings", _("Boardings")),
                                          ("alightings", _("Alightings"))],
                     horizontal=True),
               _api("stops", **arg)),
        _panel("refusals", _("Refusals by reason"), refusals,
               [("reason", _("Code")), ("message", _("Reason")), ("refusals", _("Count"))],
               _bars(refusals, "message", [("refusals", _("Refusals"))], horizontal=True),
               _api("refusals", **arg)),
    ]
    return _render("dashboard.html", panels=panels, day=day,
                   total_text=_number(sum(r["boardings"] for r in hourly)))


def _number(n: int) -> str:
    """``1.234`` in Vietnamese, ``1,234`` in English."""
    return i18n.money(n, language.current()).removesuffix(" ₫")


def _name(row: dict) -> str:
    """A product (free passes: their category) as the catalogue names it, in the page's
    language."""
    return row.get(f"name_{language.current()}") or row.get("name_vi") or row.get("product")


def _period_or_today() -> reports.Period:
    try:
        return params.period_arg()
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return reports.period(params.today(), params.today())


@bp.get("/od")
@auth.require_roles(*READERS)
def od():
    p = _period_or_today()
    route = flask.request.args.get("route", "").strip()[:16]
    session = db.get_session()
    rows = reports.od_rows(session, route, p) if route else []
    matrix = reports.od_matrix(rows)
    peak = max((max(line) for line in matrix["counts"] if line), default=0)
    route_name = places.route_names(session, [route]).get(route) if route else None
    return _render("od.html", p=p, route=route, route_name=route_name, rows=rows,
                   matrix=matrix, peak=peak,
                   csv=_api("od", route=route, **{"from": p.start.isoformat(),
                                                  "to": p.end.isoformat()}) if route else None)


@bp.get("/map")
@auth.require_roles(*READERS)
def stop_map():
    """The network's places on a map, sized by boardings over a period (of one route, or of
    all), with the routes' paths; the same places as a table beneath it."""
    p = _period_or_today()
    session = db.get_session()
    route = flask.request.args.get("route", "").strip().upper()[:16] or None
    rows = reports.by_stop(session, p, route)
    names = places.route_names(session)
    drawing = stop_map_drawing.draw(places.stations(session), rows,
                                    places.shapes(session, route), names)
    return _render("map.html", p=p, route=route or "", route_name=names.get(route or ""),
                   rows=rows, drawing=drawing, unmapped=[r for r in rows if r["lat"] is None],
                   total_text=_number(sum(r["boardings"] for r in rows)),
                   csv=_api("stops", **{"from": p.start.isoformat(), "to": p.end.isoformat(),
                                        **({"route": route} if route else {})}))


@bp.get("/settlement")
@auth.require_roles(*READERS)
def settlement():
    p = _period_or_today()
    session = db.get_session()
    names = catalogue.product_names(session)
    rows = [catalogue.name_product(names, r) for r in reports.settlement(session, p)]
    by_company: dict[str, dict] = {}
    for r in rows:
        entry = by_company.setdefault(r["company"], {"company": r["company"]})
        entry[r["product"]] = entry.get(r["product"], 0) + r["boardings"]
    products = sorted({r["product"]: _name(r) for r in rows}.items())
    chart = {"type": "bar", "stacked": True, "labels": list(by_company),
             "datasets": [{"label": name, "data": [c.get(prod, 0) for c in by_company.values()]}
                          for prod, name in products]}
    rows = [{**r, "name": _name(r)} for r in rows]
    panel = _panel("settlement", _("Boardings by company and product"), rows,
                   [("date", _("Date")), ("company", _("Company")),
                    ("company_name", _("Name")), ("name", _("Product")),
                    ("product", _("Code")),
                    ("boardings", _("Boardings")), ("alightings", _("Alightings"))],
                   chart, _api("settlement", **{"from": p.start.isoformat(),
                                                "to": p.end.isoformat()}))
    money = _money(session, p)
    return _render("settlement.html", p=p, panel=panel, money=money,
                   rule=_(company_settlement.RULE), money_days=MONEY_DAYS,
                   money_csv=flask.url_for("ridership_console.settlement_csv",
                                           **{"from": p.start.isoformat(),
                                              "to": p.end.isoformat()}))


# Money is worked out day by day from the trips and orders: a longer period is asked of
# the CSV or the command, a day at a time, not of the page.
MONEY_DAYS = 31


def _money(session, p: reports.Period) -> dict | None:
    """Each company's revenue over the period (None when the period is too long to show)."""
    if (p.end - p.start).days >= MONEY_DAYS:
        return None
    days = company_settlement.period_rows(session, p.start, p.end)
    return {"days": days, "totals": company_settlement.totals(days),
            "total": sum(r["amount_vnd"] for r in days)}


@bp.get("/settlement.csv")
@auth.require_roles(*READERS)
def settlement_csv():
    """Each company's revenue, a row per day and company, for the period (at most
    MONEY_DAYS days); the page's rule."""
    try:
        p = params.period_arg()
        if (p.end - p.start).days >= MONEY_DAYS:
            raise Invalid(N_("a period of money is at most %(days)s days"), days=MONEY_DAYS)
    except IssuerError as exc:
        flask.abort(400, said(exc))
    rows = company_settlement.period_rows(db.get_session(), p.start, p.end)
    return params.csv_response(rows, f"settlement-{p.start}-{p.end}",
                               columns=list(company_settlement.COLUMNS))


# Each flag as the page says it (translated where shown).
FLAG_TEXT = {
    "stale": N_("silent"),
    "off": N_("switched off: wrote too much to Redis"),
    "unreadable": N_("heartbeat unreadable"),
    "storage": N_("low storage"),
    "backlog": N_("large backlog"),
    "unsent": N_("old unsent trips"),
    "clock": N_("clock off"),
}
BEAT_TEXT = {"unreadable": N_("unreadable"), "none": N_("none"), "unknown": N_("unknown")}


@bp.get("/validators")
@auth.require_roles(*READERS)
def validators():
    try:
        offset, limit = params.offset_arg(), params.limit_arg(reports.PAGE)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        offset, limit = 0, reports.PAGE
    beats, notes = heartbeats.read_or_note(flask.current_app.config["REDIS_URL"])
    fleet = reports.validators(db.get_session(), now=clock.now(), beats=beats,
                               switched_off=notes.get("switched_off", ()))
    rows = [_shown(r) for r in fleet.rows(offset, limit)]
    # The summaries are the whole fleet's, whichever page of the table is shown.
    worst = fleet.worst()
    chart = {"type": "bar", "horizontal": True, "labels": [r["validator"] for r in worst],
             "datasets": [{"label": _("Refusal rate today (%)"),
                           "data": [round(r["refusal_rate_today"] * 100, 1) for r in worst]}]}
    panel = _panel("validators", _("Validators"), rows,
                   [("validator", _("Validator")), ("vehicle", _("Vehicle")),
                    ("route", _("Route")),
                    ("last_beat", _("Last heartbeat")),
                    ("backlog", _("Backlog")),
                    ("oldest_unsent", _("Oldest unsent")),
                    ("clock_offset_redis_s", _("Clock vs Redis (s)")),
                    ("storage_free", _("Storage free")),
                    ("last_sync", _("Last sync")),
                    ("last_scan", _("Last scan")),
                    ("sync_delay_s", _("Sync delay (s)")),
                    ("clock_offset_s", _("Clock offset by proofs (s)")),
                    ("scans_today", _("Scans today")),
                    ("refusal_pct", _("Refusal rate")),
                    ("flag_text", _("Flags"))],
                   chart, _api("validators"))
    panel["pager"] = _pager(fleet.total, offset, limit, len(rows))
    flagged = [{**r, "flag_text": _flag_text(r["flags"])} for r in fleet.flagged()]
    return _render("validators.html", panel=panel, stale=fleet.stale(), flagged=flagged,
                   notes=notes, stale_minutes=reports.STALE_AFTER // 60)


def _shown(r: dict) -> dict:
    """A row of the table with its cells as the page writes them."""
    r["last_beat"] = (_iso_ms(r["last_beat_ms"]) if r["last_beat_ms"] is not None
                      else _beat_text(r))
    r["last_sync"] = _iso_ms(r["last_sync_ms"])
    r["last_scan"] = _iso_ms(r["last_scan_ms"])
    r["oldest_unsent"] = (_age(r["oldest_unsent_age_s"])
                          if r["oldest_unsent_age_s"] is not None else None)
    r["storage_free"] = (f"{r['storage_free_bytes'] / 2**20:,.0f} MiB"
                         if r["storage_free_bytes"] is not None else None)
    if r["storage"] not in (None, "ok"):
        # The validator's own word for its storage ("low", "failing"): kept as it says it.
        r["storage_free"] = f"{r['storage_free'] or ''} ({r['storage']})".strip()
    r["flag_text"] = _flag_text(r["flags"])
    r["refusal_pct"] = (f"{r['refusal_rate_today'] * 100:.1f} %"
                        if r["refusal_rate_today"] is not None else "—")
    return r


def _flag_text(flags: list[str]) -> str | None:
    said = [FLAG_TEXT.get(f, f) for f in flags]
    return ", ".join(_(text) for text in said) or None


def _beat_text(row: dict) -> str:
    text = BEAT_TEXT[row["heartbeat"]]
    return _(text)


def _pager(total: int, offset: int, limit: int, shown: int) -> dict:
    """Which rows of the table the page shows, and the links to the pages before and after."""
    def link(at: int) -> str:
        return flask.url_for("ridership_console.validators", offset=at or None,
                             limit=limit if limit != reports.PAGE else None)

    return {"first": offset + 1 if shown else 0, "last": offset + shown if shown else 0,
            "total": total,
            "previous": link(max(0, min(offset, total) - limit)) if offset > 0 else None,
            "next": link(offset + limit) if offset + limit < total else None}


def _iso_ms(ms: int | None) -> str | None:
    """A time in milliseconds as people read it. Times come from the buses' clocks: one
    stored from a clock gone wrong (before the ingest turned such times away), past the
    calendar's years, is shown as the number it is, and the page still answers."""
    if ms is None:
        return None
    try:
        local = dt.datetime.fromtimestamp(ms / 1000, tz=clock.HANOI)
    except (OverflowError, ValueError, OSError):
        return _("%(ms)s ms (not a date)", ms=ms)
    # To the second: scans a few seconds apart must read apart.
    lang = language.current()
    hour, date = local.strftime("%H:%M:%S"), i18n.day(local.date(), lang)
    return f"{hour} ngày {date}" if lang == "vi" else f"{hour}, {date}"


def _age(seconds: int) -> str:
    for unit, size in ((N_("%(n)s d"), 86400), (N_("%(n)s h"), 3600), (N_("%(n)s min"), 60)):
        if seconds >= size:
            return _(unit, n=seconds // size)
    return _("%(n)s s", n=seconds)


@bp.get("/history")
@auth.require_roles(operators.CLERK, *READERS)
def history():
    pass_id = flask.request.args.get("pass_id", "").strip()[:16]
    rows = reports.pass_history(db.get_session(), pass_id) if pass_id else []
    for r in rows:
        r["time"] = _iso_ms(r["at_ms"])
    csv = (flask.url_for("ridership_api.pass_history", pass_id=pass_id, format="csv")
           if pass_id else None)
    return _render("history.html", pass_id=pass_id, rows=rows, csv=csv)


@bp.get("/alerts")
@auth.require_roles(*READERS)
def alerts():
    status = flask.request.args.get("status", "open")
    if status not in ("open", "dismissed", "revoked", "all"):
        status = "open"
    rows = [clones.as_dict(a) for a in
            reports.alerts(db.get_session(), None if status == "all" else status)]
    for r in rows:
        for side in ("first", "second"):
            r[side]["time"] = _iso_ms(r[side]["at_ms"])
    can_act = auth.caller().has_role(operators.ADMINISTRATOR)
    return _render("alerts.html", rows=rows, status=status, can_act=can_act,
                   csv=_api("alerts", status=status))


@bp.post("/alerts/<int:alert_id>/<action>")
@auth.require_roles(operators.ADMINISTRATOR)
def alert_action(alert_id: int, action: str):
    """Dismiss an alert in one click; revoking its pass takes a reason from the list, an
    optional note and a confirmation (a page of its own: it works with JavaScript off)."""
    if action == "revoke":
        return _revoke_step(alert_id)
    if action != "dismiss":
        flask.abort(404)
    try:
        actions.resolve_alert(db.get_session(), auth.caller(), params.alert_id(alert_id),
                              revoke=False, now=clock.now(),
                              redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("ridership_console.alerts"))
    flask.flash(_("Alert %(id)s dismissed.", id=alert_id), "ok")
    return flask.redirect(flask.url_for("ridership_console.alerts"))


@bp.get("/alerts/<int:alert_id>/revoke")
@auth.require_roles(operators.ADMINISTRATOR)
def revoke_form(alert_id: int):
    alert = _open_alert(alert_id)
    return _render("revoke.html", alert=alert, choices=revocation.CHOICES, code="", note="",
                   step="choose")


def _open_alert(alert_id: int):
    alert = clones.get(db.get_session(), params.alert_id(alert_id))
    if alert.status != clones.OPEN:
        flask.abort(409, _("Alert %(id)s is already closed.", id=alert_id))
    return alert


def _revoke_step(alert_id: int):
    """The form's two steps: a valid choice is shown back for confirmation; the confirmed
    one revokes. A missing or unknown reason changes nothing."""
    alert = _open_alert(alert_id)
    form = flask.request.form
    code, note = form.get("reason", ""), form.get("note", "").strip()
    try:
        reason, _text = revocation.check_choice(code, note)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return _render("revoke.html", alert=alert, choices=revocation.CHOICES, code=code,
                       note=note, step="choose"), 400
    if form.get("confirmed") != "yes":
        return _render("revoke.html", alert=alert, choices=revocation.CHOICES,
                       code=reason.code, note=note, reason=reason, step="confirm")
    try:
        alert, result = actions.resolve_alert(
            db.get_session(), auth.caller(), alert.id, revoke=True, now=clock.now(),
            redis_url=flask.current_app.config["REDIS_URL"], code=reason.code, note=note)
    except IssuerError as exc:
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("ridership_console.alerts"))
    published = publishing.answer(result)
    message = _("Pass %(id)s revoked: %(reason)s.", id=alert.pass_id, reason=_(reason.staff))
    if not published["published"]:
        message += " " + _("Validators have not been told yet; it will be retried.")
    flask.flash(message, "ok")
    return flask.redirect(flask.url_for("ridership_console.alerts"))
