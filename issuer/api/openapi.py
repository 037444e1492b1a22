"""The OpenAPI document of the JSON API, served at ``/openapi.json``.

Bodies come from :mod:`issuer.api.shapes`, the same classes the views read requests with, so
the document and the checks cannot drift apart; paths and query parameters are written here,
next to the views. The schema test (schemathesis) sends what the document allows and what it
forbids, and checks each answer's status, type and body against it; another test checks that
every ``/api`` route is in it.
"""

from __future__ import annotations

from backoffice.reports import PAGE, STOP_COLUMNS, VALIDATOR_COLUMNS
from issuer.api import audit_log, shapes
from issuer.api.payments import MAX_FIELD
from issuer.platform.audit import MAX_ENTRIES
from issuer.sales.orders import MAX_SEARCH, STATUSES
from issuer.web.params import MOST_OFFSET

ID = {"type": "string", "minLength": 1, "maxLength": 40}
ERROR = {"description": "refused, with a message",
         "content": {"application/json": {"schema": shapes.ref(shapes.Error)}}}
OBJ = {"description": "done", "content": {"application/json": {"schema": {"type": "object"}}}}


def _op(summary: str, *, ok: str = "200", body: type | None = None, params=(),
        security: bool = True, tag: str = "riders", answer: type | None = None,
        limited: bool = False) -> dict:
    """``body``, ``answer``: the shapes of the request and of the success answer (an answer
    not described is "an object"); ``limited``: the route is rate-limited per caller (a 429
    with Retry-After)."""
    done = OBJ if answer is None else {"description": "done", "content": {
        "application/json": {"schema": shapes.ref(answer)}}}
    op = {"summary": summary, "tags": [tag], "responses": {ok: done, "400": ERROR, "401": ERROR,
                                                           "403": ERROR, "404": ERROR,
                                                           "409": ERROR}}
    if limited:
        op["responses"]["429"] = ERROR
    if body is not None:
        op["requestBody"] = {"required": body is not shapes.Empty, "content": {
            "application/json": {"schema": shapes.ref(body)}}}
    if params:
        op["parameters"] = list(params)
    if not security:
        op["security"] = []
    return op


def _with_503(op: dict) -> dict:
    """An operation that a database outage answers 503 (with Retry-After), so that the
    caller, a bank's service, sends it again."""
    op["responses"]["503"] = ERROR
    return op


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict, description: str | None = None) -> dict:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


TEXT = {"type": "string", "maxLength": 600}
VNPAY_FIELDS = ("vnp_Amount", "vnp_BankCode", "vnp_BankTranNo", "vnp_CardType",
                "vnp_OrderInfo", "vnp_PayDate", "vnp_ResponseCode", "vnp_TmnCode",
                "vnp_TransactionNo", "vnp_TransactionStatus", "vnp_TxnRef", "vnp_SecureHash")
P, O, A = _path("pass_id"), _path("order_id"), _path("application_id")


# -- /api/ridership: the console's tables -----------------------------------------------------

COUNTS = ("boardings", "alightings", "refusals")
DAY = {"type": "string", "format": "date"}
DATE = _query("date", DAY, "a Hanoi day, YYYY-MM-DD, from 2000-01-01 to 2099-12-31; "
                           "default today")
FROM = _query("from", DAY, "the first Hanoi day, inclusive; default the day of `to`")
TO = _query("to", DAY, "the last Hanoi day, inclusive (a period is at most 366 days); "
                       "default today")
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
               "at most this many rows, the busiest first")
ROUTE = {"type": "string", "minLength": 1, "maxLength": 32}
PAGING = (
    _query("offset", {"type": "integer", "minimum": 0, "maximum": MOST_OFFSET},
           "rows to skip: with `limit`, a page of the table; past the last row, no rows; "
           "default 0"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
           f"at most this many rows; default {PAGE} in JSON, every validator in CSV"))
PERIOD = (FROM, TO)
# Each table: (summary, its query parameters, its columns: the JSON rows' keys and the CSV's).
RIDERSHIP_TABLES = {
    "hourly": ("Boardings per hour of a day, against the same weekday a week before", (DATE,),
               ("hour", *COUNTS, "boardings_last_week")),
    "refusals-hourly": ("Refusals per hour and reason on a day", (DATE,),
                        ("hour", "reason", "refusals")),
    "validators": ("Every validator: its last heartbeat (backlog, oldest unsent trip, clock "
                   "against Redis, storage), its last sync and scan, today's scans and "
                   "refusal rate, and the flags that need a person. Silent validators "
                   "first, then flagged ones, then the rest; paged", PAGING, VALIDATOR_COLUMNS),
    "alerts": ("Cloned-pass alerts", (_query("status", {
        "type": "string", "enum": ["open", "dismissed", "revoked", "all"]}, "default open"),),
        ("id", "pass_id", "status", "first_trip", "first_vehicle", "first_at_ms",
         "second_trip", "second_vehicle", "second_at_ms", "gap_s", "resolved_by")),
    "routes": ("Boardings, alightings and refusals per route, with the route's name as the "
               "network has it (null: a route the network lacks)", (*PERIOD, LIMIT),
               ("route", "route_name", *COUNTS)),
    "stops": ("Per place, the busiest first: the stops within a few metres of one another "
              "(of every route and direction) are one place, keyed by its station's GTFS "
              "stop id and named as the feed names it, with its coordinates and the routes "
              "counted there; a stop the network lacks (text a driver set) is its own place, "
              "without coordinates", (*PERIOD, _query("route", ROUTE, "one route's stops only"),
                                      LIMIT), STOP_COLUMNS),
    "products": ("Per product, free passes per category: the code (free:<category>) and "
                 "the catalogue's names", PERIOD, ("product", "name_vi", "name_en", *COUNTS)),
    "vehicles": ("Per vehicle", (*PERIOD, LIMIT), ("vehicle", *COUNTS)),
    "refusals": ("Refusals per reason, with the reason's messages", PERIOD,
                 ("reason", "message_vi", "message_en", "refusals")),
    "settlement": ("Per day, company and product: what each company is paid for", PERIOD,
                   ("date", "company", "company_name", "product", "name_vi", "name_en",
                    "boardings", "alightings")),
    "od": ("Journeys from each origin place to each destination place on one route (places "
           "as in the stops table), with the places' names",
           (*PERIOD, {**_query("route", {**ROUTE, "maxLength": 16}), "required": True}),
           ("origin", "origin_name", "destination", "destination_name", "journeys")),
}
# What a table's JSON holds beside its rows.
EXTRA = {
    "od": {"matrix": {"type": "object", "description": "the rows as a matrix: origins, "
                      "destinations, origin_names, destination_names (in the same order), "
                      "counts, journeys, open (boardings no alighting closed)"}},
    "validators": {
        "heartbeats": {"type": "string", "enum": ["read", "unavailable"],
                       "description": "unavailable: Redis could not be read; the rows are "
                                      "what the trips tell"},
        "heartbeats_error": {"type": "string", "description": "why, when unavailable"},
        "total": {"type": "integer", "description": "validators in the whole table"},
        "offset": {"type": "integer", "description": "the first row's place in the table"},
        "limit": {"type": "integer", "description": "the most rows this page holds"},
        "stale": {"type": "integer", "description": "silent validators, in the whole table "
                                                    "(they come first)"},
        "flagged": {"type": "integer", "description": "validators with a flag besides "
                                                      "stale, in the whole table"}},
}
# ``stop`` and ``destination``: what the validator recorded (a GTFS stop id, or text);
# ``stop_name``, ``destination_name``, ``route_name``: as the network's feed names them.
HISTORY_COLUMNS = ("id", "at_ms", "mode", "decision", "reason", "message_vi", "message_en",
                   "vehicle", "route", "route_name", "stop", "stop_name", "validator",
                   "product", "category", "closed_by", "destination", "destination_name")
FORMAT = _query("format", {"type": "string", "enum": ["json", "csv"]},
                "csv: the rows as a CSV file to download (UTF-8 with a BOM, so spreadsheets "
                "read Vietnamese), one column per row key; default json")
READERS_NOTE = "analyst or administrator"


def _table_op(summary: str, params, columns, covers=(), extra: dict | None = None,
              roles: str = READERS_NOTE) -> dict:
    """A console table: JSON (what it covers, and its rows) or CSV with ``format=csv``."""
    row = {"type": "object", "properties": {c: {} for c in columns}}  # any JSON value
    body = {"type": "object", "required": ["rows"], "properties": {
        **{c: {"type": "string"} for c in covers},
        "rows": {"type": "array", "items": row}, **(extra or {})}}
    return {"summary": f"{summary} ({roles})", "tags": ["ridership"],
            "parameters": [*params, FORMAT],
            "responses": {"200": {"description": "the table", "content": {
                "application/json": {"schema": body},
                "text/csv": {"schema": {"type": "string"}}}},
                "400": ERROR, "401": ERROR, "403": ERROR}}


def _covers(params) -> tuple[str, ...]:
    return tuple(p["name"] for p in params if p["name"] in ("date", "from", "to", "status"))


def ridership_paths() -> dict:
    paths = {}
    for name, (summary, params, columns) in RIDERSHIP_TABLES.items():
        covers = _covers(params) + (("route",) if name == "od" else ())
        extra = EXTRA.get(name)
        paths[f"/api/ridership/{name}"] = {"get": _table_op(summary, params, columns, covers,
                                                            extra)}
    paths["/api/ridership/passes/{pass_id}/history"] = {"get": _table_op(
        "A pass's scans, newest first", [{**_path("pass_id"), "schema": {
            "type": "string", "minLength": 1, "maxLength": 16}}], HISTORY_COLUMNS,
        ("pass_id",), roles=f"clerk, {READERS_NOTE}")}
    alert = {"name": "alert_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
    for action, summary in (("revoke", "Revoke the alert's pass and close its open alerts; "
                                       "the denylist is published"),
                            ("dismiss", "Dismiss an alert: not a clone")):
        op = _op(f"{summary} (administrator)", params=[alert], tag="ridership")
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": shapes.ref(shapes.Empty)}}}
        paths[f"/api/ridership/alerts/{{alert_id}}/{action}"] = {"post": op}
    return paths


PATHS = {
    "/api/catalogue": {"get": _op("Products, prices, fare categories, routes, months on sale",
                                  security=False)},
    "/api/me": {"get": _op("The signed-in rider's account")},
    "/api/me/passes": {"get": _op("The rider's passes", answer=shapes.Passes)},
    "/api/me/orders": {"get": _op("The rider's orders", answer=shapes.Orders)},
    "/api/me/applications": {"get": _op("The rider's applications and their decisions")},
    "/api/orders": {
        "post": _op("Order a monthly pass (rider)", ok="201", body=shapes.OrderRequest,
                    answer=shapes.Order),
        "get": _op("Find orders (clerk)", tag="counter", answer=shapes.Orders, params=[
            _query("q", {"type": "string", "maxLength": MAX_SEARCH}),
            _query("status", {"type": "string",
                              "enum": list(STATUSES)})])},
    "/api/orders/{order_id}": {"get": _op("An order (its rider, or a clerk)", params=[O],
                                          answer=shapes.Order)},
    "/api/orders/{order_id}/cancel": {"post": _op("Cancel a pending order", params=[O],
                                                  body=shapes.Empty, answer=shapes.Order)},
    "/api/orders/{order_id}/pay": {"post": _op(
        "Record the cash taken at the counter; the pass is issued (clerk)", tag="counter",
        params=[O], body=shapes.Payment, answer=shapes.Order)},
    "/api/orders/{order_id}/pay/card": {"post": _op(
        "Pay a pending order by card or e-wallet: the gateway's URL for the rider's browser "
        "(rider)", params=[O], body=shapes.Empty, answer=shapes.CardPayment)},
    "/api/orders/{order_id}/refund": {"post": _op(
        "Refund a paid order and revoke its pass: a clerk at the counter, or the rider "
        "herself for the amount the refund policy sets", tag="counter", params=[O],
        body=shapes.Reason, answer=shapes.Order)},
    "/api/free-passes": {"post": _op(
        "A free pass for a category the date of birth decides (rider)", ok="201",
        body=shapes.FreePassRequest, answer=shapes.Pass)},
    "/api/applications": {
        "post": _op("Apply for a fare category with evidence (rider)", ok="201",
                    body=shapes.ApplicationRequest),
        "get": _op("Applications waiting for a decision (approver)", tag="approvals")},
    "/api/applications/{application_id}": {"get": _op("An application", params=[A])},
    "/api/applications/{application_id}/evidence": {"get": _op(
        "The evidence file (its rider, or an approver)", params=[A])},
    "/api/applications/{application_id}/approve": {"post": _op(
        "Approve (approver)", tag="approvals", params=[A], body=shapes.Decision)},
    "/api/applications/{application_id}/reject": {"post": _op(
        "Reject with a reason the rider sees (approver)", tag="approvals", params=[A],
        body=shapes.Reason)},
    "/api/passes/{pass_id}": {"get": _op("A pass (its rider, or an operator)", params=[P],
                                         answer=shapes.Pass)},
    "/api/passes/{pass_id}/devices": {"get": _op(
        "The phones the pass has been on, and when each was activated (its rider, or an "
        "operator)", params=[P])},
    "/api/passes/{pass_id}/lost-device": {"post": _op(
        "Report the phone holding the pass lost (rider)", params=[P], body=shapes.Reason)},
    "/api/passes/{pass_id}/device": {"post": _op(
        "Activate the pass on a phone: bind its P-256 key (rider)", ok="201", params=[P],
        body=shapes.DeviceRequest, answer=shapes.Bound, limited=True)},
    "/api/passes/{pass_id}/revoke": {"post": _op(
        "Revoke a pass (administrator)", tag="operators", params=[P], body=shapes.Revocation,
        answer=shapes.Pass)},
    "/api/routes": {"get": _op("Routes (any operator)", tag="operators", answer=shapes.Routes),
                    "post": _op("Add a route (administrator)", ok="201", tag="operators",
                                body=shapes.RouteRequest, answer=shapes.Route)},
    "/api/keys": {"get": _op("Signing keys (administrator)", tag="operators")},
    "/api/keys/rotate": {"post": _op("Add a signing key (administrator)", ok="201",
                                     tag="operators")},
    "/api/keys/{kid}/retire": {"post": _op("Retire a signing key (administrator)",
                                           tag="operators", params=[_path("kid")])},
    "/api/accounts": {"post": _op(
        "Create an account by hand, with a rider token (administrator)", ok="201",
        tag="operators", body=shapes.AccountRequest, answer=shapes.NewAccount)},
    "/api/passes": {"post": _op(
        "Issue a pass directly (administrator; riders buy through orders)", ok="201",
        tag="operators", body=shapes.IssueRequest, answer=shapes.Pass)},
    "/api/passes/{pass_id}/credential": {"post": _op(
        "A fresh credential for the phone the pass is on (its rider)", params=[P],
        body=shapes.Empty, answer=shapes.Credential, limited=True)},
    "/api/passes/{pass_id}/custodial": {"post": _op(
        "Activate the pass with a device key the issuer keeps (its rider)", ok="201",
        params=[P], body=shapes.Empty, answer=shapes.Custodial, limited=True)},
    "/api/passes/{pass_id}/qr": {"get": _op(
        "The rotating QR of the rider's own custodial pass (text, png or svg)", params=[
            P, _query("format", {"type": "string", "enum": ["text", "png", "svg"]})],
        limited=True)},
    "/api/me/photo": {"get": _op("The rider's photo from the e-ID")},
    "/api/audit": {"get": _op("The audit log, newest first (administrator)", tag="operators",
                              params=[*(_query(name, {"type": "string",
                                                      "maxLength": audit_log.FILTER_LENGTH})
                                        for name in ("actor", "target", "action")),
                                      _query("limit", {"type": "integer", "minimum": 1,
                                                       "maximum": MAX_ENTRIES})])},
    "/api/payments/bank-notifications": {"post": {**_with_503(_op(
        "A bank-statement notification of a transfer (VietQR), signed: X-Bank-Signature is "
        "sha256= and the hex HMAC-SHA256, with the webhook secret, of X-Bank-Timestamp (Unix "
        "seconds, within 5 minutes), a dot and the body", tag="payments", security=False,
        answer=shapes.BankAnswer, params=[
            {"name": "X-Bank-Timestamp", "in": "header", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}},
            {"name": "X-Bank-Signature", "in": "header", "required": True,
             "schema": {"type": "string", "maxLength": 128}}])),
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": shapes.ref(shapes.BankCredit)}}}}},
    "/api/payments/vnpay/ipn": {"get": _op(
        "The card gateway's payment notification (VNPay 2.1 IPN, signed with the hash "
        "secret); always 200 with RspCode and Message", tag="payments", security=False,
        answer=shapes.IpnAnswer, params=[
            _query(name, {"type": "string", "maxLength": MAX_FIELD})
            for name in VNPAY_FIELDS])},
}

PATHS.update(ridership_paths())

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "vexe issuer API", "version": "1",
             "description": "Riders sign in with the national e-ID (a session cookie; changes "
                            "need the X-CSRFToken header) or use a rider token; operators use "
                            "a token scoped to one role, or their console session. Outside "
                            "the API, without authentication: GET /healthz (200 while the "
                            "process answers) and GET /readyz (200 when the database, at this "
                            "version's schema, and Redis answer; else 503 naming the checks "
                            "that failed)."},
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie",
                                        "name": "vexe_session"}},
        "schemas": shapes.components()},
    "security": [{"bearer": []}, {"session": []}],
}
