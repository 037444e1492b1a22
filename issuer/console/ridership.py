"""``/console/ridership``: the operator's ridership pages.

Each panel is a chart drawn by Chart.js from data in the page, the same data as a table
beneath it (readable without JavaScript, and by screen readers), and a link to its CSV. The
map of stops is an SVG drawn on the server (``stop_map``), with its table too.
"""

from __future__ import annotations

import flask

from backoffice import actions, clones, heartbeats, places, reports
from issuer.console import stop_map as stop_map_drawing
from issuer.identity import operators
from issuer.passes import catalogue
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.web import auth, browser, params, publishing
from shared import clock

bp = flask.Blueprint("ridership_console", __name__, url_prefix="/console/ridership",
                     template_folder="templates", static_folder="static")
bp.before_request(browser.protect_form)

VENDOR = {"chart.js": browser.VENDOR / "chart.umd.min.js"}

READERS = (operators.ANALYST, operators.ADMINISTRATOR)

# (endpoint, Vietnamese, English): the ridership menu.
MENU = [
    ("ridership_console.dashboard", "Lượt đi", "Ridership"),
    ("ridership_console.od", "Điểm đi – điểm đến", "Origin–destination"),
    ("ridership_console.stop_map", "Bản đồ điểm dừng", "Map of stops"),
    ("ridership_console.settlement", "Thanh toán cho doanh nghiệp", "Settlement"),
    ("ridership_console.validators", "Máy soát vé", "Validators"),
    ("ridership_console.history", "Lịch sử thẻ", "Pass history"),
    ("ridership_console.alerts", "Cảnh báo thẻ nhân bản", "Cloned-pass alerts"),
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


def _panel(key: str, vi: str, en: str, rows: list[dict], columns: list[tuple[str, str, str]],
           chart: dict | None, csv: str) -> dict:
    return {"key": key, "vi": vi, "en": en, "rows": rows, "columns": columns, "chart": chart,
            "csv": csv}


def _bars(rows: list[dict], label: str, series: list[tuple[str, str]], kind: str = "bar",
          horizontal: bool = False) -> dict:
    return {"type": kind, "horizontal": horizontal, "labels": [str(r[label]) for r in rows],
            "datasets": [{"label": name, "data": [r[key] for r in rows]} for key, name in series]}


COUNTS = [("boardings", "Lên xe", "Boardings"), ("alightings", "Xuống xe", "Alightings"),
          ("refusals", "Từ chối", "Refusals")]


@bp.get("/")
@auth.require_roles(*READERS)
def dashboard():
    session = db.get_session()
    try:
        day = params.date_arg("date", params.today())
        p = reports.period(day, day)
    except IssuerError as exc:
        flask.flash(str(exc), "error")
        day = params.today()
        p = reports.period(day, day)
    hourly = reports.hourly(session, day)
    products = [{**r, "name": _name(r)} for r in reports.by_product(session, p)]
    routes = reports.by_route(session, p, limit=15)
    stops = reports.by_stop(session, p, limit=15)
    refusals = reports.refusals(session, p)
    arg = {"from": p.start.isoformat(), "to": p.end.isoformat()}
    panels = [
        _panel("hourly", "Lượt lên xe theo giờ, so với cùng ngày tuần trước",
               "Boardings per hour, against the same weekday last week", hourly,
               [("hour", "Giờ", "Hour"), ("boardings", "Lên xe", "Boardings"),
                ("boardings_last_week", "Tuần trước", "Last week"),
                ("alightings", "Xuống xe", "Alightings"), ("refusals", "Từ chối", "Refusals")],
               _bars(hourly, "hour", [("boardings", "Hôm nay · Today"),
                                      ("boardings_last_week", "Tuần trước · Last week")], "line"),
               _api("hourly", date=day.isoformat())),
        _panel("products", "Theo loại vé", "By product", products,
               [("name_vi", "Loại vé", "Product"), ("name_en", "", "Product (English)"),
                ("product", "Mã", "Code"), *COUNTS],
               _bars(products, "name", [("boardings", "Lên xe · Boardings")], "doughnut"),
               _api("products", **arg)),
        _panel("routes", "Tuyến đông khách nhất", "Top routes", routes,
               [("route", "Tuyến", "Route"), ("route_name", "Tên tuyến", "Route name"),
                *COUNTS],
               _bars(routes, "route", [("boardings", "Lên xe · Boardings"),
                                       ("alightings", "Xuống xe · Alightings")], horizontal=True),
               _api("routes", **arg)),
        _panel("stops", "Điểm dừng đông khách nhất", "Top stops", stops,
               [("stop_name", "Điểm dừng", "Stop"), ("routes", "Các tuyến", "Routes"),
                *COUNTS, ("stop", "Mã", "Id")],
               _bars(stops, "stop_name", [("boardings", "Lên xe · Boardings"),
                                          ("alightings", "Xuống xe · Alightings")],
                     horizontal=True),
               _api("stops", **arg)),
        _panel("refusals", "Từ chối theo lý do", "Refusals by reason", refusals,
               [("reason", "Mã", "Code"), ("message_vi", "Lý do", "Reason"),
                ("message_en", "", "Reason (English)"), ("refusals", "Số lượt", "Count")],
               _bars(refusals, "message_vi", [("refusals", "Từ chối · Refusals")],
                     horizontal=True),
               _api("refusals", **arg)),
    ]
    return _render("dashboard.html", panels=panels, day=day,
                   total=sum(r["boardings"] for r in hourly))


def _name(row: dict) -> str:
    """A product (free passes: their category) as the catalogue names it, in both languages."""
    return f"{row['name_vi']} · {row['name_en']}"


def _period_or_today() -> reports.Period:
    try:
        return params.period_arg()
    except IssuerError as exc:
        flask.flash(str(exc), "error")
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
                   total=sum(r["boardings"] for r in rows),
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
    panel = _panel("settlement", "Lượt lên xe theo doanh nghiệp và loại vé",
                   "Boardings by company and product", rows,
                   [("date", "Ngày", "Date"), ("company", "Doanh nghiệp", "Company"),
                    ("company_name", "Tên", "Name"), ("name_vi", "Loại vé", "Product"),
                    ("name_en", "", "Product (English)"), ("product", "Mã", "Code"),
                    ("boardings", "Lên xe", "Boardings"), ("alightings", "Xuống xe", "Alightings")],
                   chart, _api("settlement", **{"from": p.start.isoformat(),
                                                "to": p.end.isoformat()}))
    return _render("settlement.html", p=p, panel=panel)


# Each flag as the page says it: (Vietnamese, English).
FLAG_TEXT = {
    "stale": ("im lặng", "silent"),
    "unreadable": ("tín hiệu không đọc được", "heartbeat unreadable"),
    "storage": ("sắp hết bộ nhớ", "low storage"),
    "backlog": ("nhiều chuyến chưa gửi", "large backlog"),
    "unsent": ("chuyến chưa gửi quá lâu", "old unsent trips"),
    "clock": ("đồng hồ lệch", "clock off"),
}
BEAT_TEXT = {"unreadable": "không đọc được · unreadable", "none": "chưa có · none",
             "unknown": "không rõ · unknown"}


@bp.get("/validators")
@auth.require_roles(*READERS)
def validators():
    try:
        offset, limit = params.offset_arg(), params.limit_arg(reports.PAGE)
    except IssuerError as exc:
        flask.flash(str(exc), "error")
        offset, limit = 0, reports.PAGE
    beats, notes = heartbeats.read_or_note(flask.current_app.config["REDIS_URL"])
    fleet = reports.validators(db.get_session(), now=clock.now(), beats=beats)
    rows = [_shown(r) for r in fleet.rows(offset, limit)]
    # The summaries are the whole fleet's, whichever page of the table is shown.
    worst = fleet.worst()
    chart = {"type": "bar", "horizontal": True, "labels": [r["validator"] for r in worst],
             "datasets": [{"label": "Tỉ lệ từ chối hôm nay (%) · Refusal rate today (%)",
                           "data": [round(r["refusal_rate_today"] * 100, 1) for r in worst]}]}
    panel = _panel("validators", "Máy soát vé", "Validators", rows,
                   [("validator", "Máy", "Validator"), ("vehicle", "Xe", "Vehicle"),
                    ("route", "Tuyến", "Route"),
                    ("last_beat", "Tín hiệu lần cuối", "Last heartbeat"),
                    ("backlog", "Chuyến chưa gửi", "Backlog"),
                    ("oldest_unsent", "Chờ gửi lâu nhất", "Oldest unsent"),
                    ("clock_offset_redis_s", "Lệch đồng hồ so với Redis (s)",
                     "Clock vs Redis (s)"),
                    ("storage_free", "Bộ nhớ trống", "Storage free"),
                    ("last_sync", "Đồng bộ lần cuối", "Last sync"),
                    ("last_scan", "Quét lần cuối", "Last scan"),
                    ("sync_delay_s", "Độ trễ đồng bộ (s)", "Sync delay (s)"),
                    ("clock_offset_s", "Lệch đồng hồ theo vé (s)", "Clock offset by proofs (s)"),
                    ("scans_today", "Lượt quét hôm nay", "Scans today"),
                    ("refusal_pct", "Tỉ lệ từ chối", "Refusal rate"),
                    ("flag_text", "Cảnh báo", "Flags")],
                   chart, _api("validators"))
    panel["pager"] = _pager(fleet.total, offset, limit, len(rows))
    flagged = [{**r, "flag_text": _flag_text(r["flags"])} for r in fleet.flagged()]
    return _render("validators.html", panel=panel, stale=fleet.stale(), flagged=flagged,
                   notes=notes, stale_minutes=reports.STALE_AFTER // 60)


def _shown(r: dict) -> dict:
    """A row of the table with its cells as the page writes them."""
    r["last_beat"] = (_iso_ms(r["last_beat_ms"]) if r["last_beat_ms"] is not None
                      else BEAT_TEXT[r["heartbeat"]])
    r["last_sync"] = _iso_ms(r["last_sync_ms"])
    r["last_scan"] = _iso_ms(r["last_scan_ms"])
    r["oldest_unsent"] = (_age(r["oldest_unsent_age_s"])
                          if r["oldest_unsent_age_s"] is not None else None)
    r["storage_free"] = (f"{r['storage_free_bytes'] / 2**20:,.0f} MiB"
                         if r["storage_free_bytes"] is not None else None)
    if r["storage"] not in (None, "ok"):
        r["storage_free"] = f"{r['storage_free'] or ''} ({r['storage']})".strip()
    r["flag_text"] = _flag_text(r["flags"])
    r["refusal_pct"] = (f"{r['refusal_rate_today'] * 100:.1f} %"
                        if r["refusal_rate_today"] is not None else "—")
    return r


def _flag_text(flags: list[str]) -> str | None:
    return ", ".join(" · ".join(FLAG_TEXT[f]) for f in flags) or None


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
        return clock.iso(ms / 1000)
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms (not a date)"


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


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
    if action not in ("revoke", "dismiss"):
        flask.abort(404)
    session = db.get_session()
    now = clock.now()
    who = auth.caller()
    try:
        alert, result = actions.resolve_alert(session, who, params.alert_id(alert_id),
                                              revoke=action == "revoke", now=now,
                                              redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("ridership_console.alerts"))
    if result is not None:
        published = publishing.answer(result)
        message = f"Đã thu hồi thẻ {alert.pass_id}. Pass {alert.pass_id} revoked."
        if not published["published"]:
            message += f" {published['warning']}"
    else:
        message = f"Đã bỏ qua cảnh báo {alert_id}. Alert {alert_id} dismissed."
    flask.flash(message, "ok")
    return flask.redirect(flask.url_for("ridership_console.alerts"))
