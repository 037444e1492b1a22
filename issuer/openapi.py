"""The OpenAPI document of the JSON API, served at ``/openapi.json``.

Written by hand next to the views it describes; the schema test (schemathesis) sends what it
allows to the app and fails on any 5xx, and a test checks that every ``/api`` route is in it.
"""

from __future__ import annotations

ID = {"type": "string", "minLength": 1, "maxLength": 40}
ERROR = {"description": "refused, with a message",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
OBJ = {"description": "done", "content": {"application/json": {"schema": {"type": "object"}}}}


def _op(summary: str, *, ok: str = "200", body: dict | None = None, params=(),
        security: bool = True, tag: str = "riders") -> dict:
    op = {"summary": summary, "tags": [tag], "responses": {ok: OBJ, "400": ERROR, "401": ERROR,
                                                           "403": ERROR, "404": ERROR,
                                                           "409": ERROR}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, **body}}}}
    if params:
        op["parameters"] = list(params)
    if not security:
        op["security"] = []
    return op


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


TEXT = {"type": "string", "maxLength": 600}
REASON = {"properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
          "required": ["reason"]}
P, O, A = _path("pass_id"), _path("order_id"), _path("application_id")

PATHS = {
    "/api/catalogue": {"get": _op("Products, prices, fare categories, routes, months on sale",
                                  security=False)},
    "/api/me": {"get": _op("The signed-in rider's account")},
    "/api/me/passes": {"get": _op("The rider's passes")},
    "/api/me/orders": {"get": _op("The rider's orders")},
    "/api/me/applications": {"get": _op("The rider's applications and their decisions")},
    "/api/orders": {
        "post": _op("Order a monthly pass (rider)", ok="201", body={
            "properties": {"product": {"type": "string", "enum": ["single", "multi"]},
                           "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                           "route": TEXT, "category": TEXT},
            "required": ["product", "month"]}),
        "get": _op("Find orders (clerk)", tag="counter", params=[
            _query("q", TEXT),
            _query("status", {"type": "string",
                              "enum": ["pending", "paid", "cancelled", "refunded"]})])},
    "/api/orders/{order_id}": {"get": _op("An order (its rider, or a clerk)", params=[O])},
    "/api/orders/{order_id}/cancel": {"post": _op("Cancel a pending order", params=[O])},
    "/api/orders/{order_id}/pay": {"post": _op(
        "Record the cash taken at the counter; the pass is issued (clerk)", tag="counter",
        params=[O], body={"properties": {"amount_vnd": {"type": "integer"}},
                          "required": ["amount_vnd"]})},
    "/api/orders/{order_id}/refund": {"post": _op(
        "Refund a paid order and revoke its pass (clerk)", tag="counter", params=[O],
        body=REASON)},
    "/api/free-passes": {"post": _op(
        "A free pass for a category the date of birth decides (rider)", ok="201",
        body={"properties": {"category": TEXT}, "required": ["category"]})},
    "/api/applications": {
        "post": _op("Apply for a fare category with evidence (rider)", ok="201", body={
            "properties": {"category": TEXT, "evidence_note": {"type": "string",
                                                               "maxLength": 1000},
                           "evidence": {"type": "string", "maxLength": 4096,
                                        "description": "base64 of a PNG, JPEG or PDF"},
                           "evidence_type": {"type": "string",
                                             "enum": ["image/png", "image/jpeg",
                                                      "application/pdf"]}},
            "required": ["category", "evidence_note"]}),
        "get": _op("Applications waiting for a decision (approver)", tag="approvals")},
    "/api/applications/{application_id}": {"get": _op("An application", params=[A])},
    "/api/applications/{application_id}/evidence": {"get": _op(
        "The evidence file (its rider, or an approver)", params=[A])},
    "/api/applications/{application_id}/approve": {"post": _op(
        "Approve (approver)", tag="approvals", params=[A],
        body={"properties": {"reason": {"type": "string", "maxLength": 500}}})},
    "/api/applications/{application_id}/reject": {"post": _op(
        "Reject with a reason the rider sees (approver)", tag="approvals", params=[A],
        body=REASON)},
    "/api/passes/{pass_id}": {"get": _op("A pass (its rider, or an operator)", params=[P])},
    "/api/passes/{pass_id}/devices": {"get": _op(
        "The phones the pass has been on, and when each was activated", params=[P])},
    "/api/passes/{pass_id}/lost-device": {"post": _op(
        "Report the phone holding the pass lost (rider)", params=[P], body=REASON)},
    "/api/passes/{pass_id}/device": {"post": _op(
        "Activate the pass on a phone: bind its P-256 key (rider)", ok="201", params=[P],
        body={"properties": {"public_key": {"type": "string", "maxLength": 200},
                             "label": {"type": "string", "maxLength": 100}},
              "required": ["public_key"]})},
    "/api/passes/{pass_id}/revoke": {"post": _op(
        "Revoke a pass (administrator)", tag="operators", params=[P], body=REASON)},
    "/api/routes": {"get": _op("Routes (any operator)", tag="operators"),
                    "post": _op("Add a route (administrator)", ok="201", tag="operators", body={
                        "properties": {"code": {"type": "string", "maxLength": 20},
                                       "name": {"type": "string", "maxLength": 250}},
                        "required": ["code", "name"]})},
    "/api/keys": {"get": _op("Signing keys (administrator)", tag="operators")},
    "/api/keys/rotate": {"post": _op("Add a signing key (administrator)", ok="201",
                                     tag="operators")},
    "/api/keys/{kid}/retire": {"post": _op("Retire a signing key (administrator)",
                                           tag="operators", params=[_path("kid")])},
    "/api/accounts": {"post": _op(
        "Create an account by hand, with a rider token (administrator)", ok="201",
        tag="operators", body={"properties": {
            "full_name": {"type": "string", "maxLength": 250},
            "birth_date": {"type": "string", "maxLength": 12},
            "national_id": {"type": "string", "maxLength": 20},
            "identity_level": {"type": "integer"}}, "required": ["full_name", "birth_date"]})},
    "/api/passes": {"post": _op(
        "Issue a pass directly (administrator; riders buy through orders)", ok="201",
        tag="operators", body={"properties": {
            "account_id": TEXT, "product": TEXT, "route": TEXT, "month": TEXT,
            "category": TEXT}, "required": ["account_id", "product"]})},
    "/api/passes/{pass_id}/credential": {"post": _op(
        "A fresh credential for the phone the pass is on", params=[P])},
    "/api/passes/{pass_id}/custodial": {"post": _op(
        "Activate the pass with a device key the issuer keeps", ok="201", params=[P])},
    "/api/passes/{pass_id}/qr": {"get": _op(
        "The rotating QR of a custodial pass (text, png or svg)", params=[
            P, _query("format", {"type": "string", "enum": ["text", "png", "svg"]}),
            _query("at", {"type": "integer"})])},
    "/api/me/photo": {"get": _op("The rider's photo from the e-ID")},
    "/api/audit": {"get": _op("The audit log, newest first (administrator)", tag="operators",
                              params=[_query("actor", TEXT), _query("target", TEXT),
                                      _query("action", TEXT),
                                      _query("limit", {"type": "integer", "minimum": 1,
                                                       "maximum": 500})])},
}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "vexe issuer API", "version": "1",
             "description": "Riders sign in with the national e-ID (a session cookie; changes "
                            "need the X-CSRFToken header) or use a rider token; operators use "
                            "a token scoped to one role, or their console session."},
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie",
                                        "name": "vexe_session"}},
        "schemas": {"Error": {"type": "object", "required": ["error"],
                              "properties": {"error": {"type": "string"}}}}},
    "security": [{"bearer": []}, {"session": []}],
}
