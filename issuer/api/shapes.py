"""The JSON API's bodies, written once: what each request may send and what answers hold.

Each request body is a ``msgspec.Struct``: the view reads it with :func:`issuer.api.json_body`
(unknown fields, wrong types and values out of bounds are a 400 before the view runs), and
``/openapi.json`` takes its schema from the same class (:mod:`issuer.api.openapi`). Answers
are described the same way; the schema test checks every answer the app gives against them.

msgspec rather than pydantic or marshmallow: it is already what the ingest decodes trips with,
it validates in C, and it writes JSON Schema 2020-12, which OpenAPI 3.1 uses as is.

The bounds are the ones the domain enforces (route codes are 16 characters because a
credential's route claim is; names 200; a reason 500): the shape refuses early, the domain
still checks what only it can (a route that exists, a price that matches).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta, Struct

from issuer.sales.applications import MAX_EVIDENCE
from issuer.sales.bank import Credit as BankCredit
from shared.i18n import N_

Text = Annotated[str, Meta(max_length=600)]
Name = Annotated[str, Meta(max_length=200, description="1 to 200 characters")]
ReasonText = Annotated[str, Meta(min_length=1, max_length=500)]
Month = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")]
# base64 of at most MAX_EVIDENCE bytes: four characters for every three bytes.
EVIDENCE_CHARS = 4 * -(-MAX_EVIDENCE // 3)


class Request(Struct, forbid_unknown_fields=True):
    """A request body: a misspelt field is refused, never ignored. ``messages``: what a bad
    value of a field means, in the words the domain uses for it (read by shared.jsonbody)."""
    messages: ClassVar[dict[str, str]] = {}


# -- requests -------------------------------------------------------------------------------

class Empty(Request):
    """No fields: the body may be empty or ``{}``."""


class Reason(Request):
    reason: ReasonText


class Revocation(Request):
    """Why a pass is revoked: ``code`` one of issuer.passes.revocation's reasons (``other``
    when left out), ``reason`` the operator's words, kept in the audit log."""
    reason: ReasonText
    code: Annotated[str, Meta(max_length=32)] | None = None


class Decision(Request):
    reason: Annotated[str, Meta(max_length=500)] | None = None


class OrderRequest(Request):
    messages = {"product": N_("an order is for a monthly pass: product must be one of single, "
                              "multi"),
                "month": N_("month must be one on sale now, written YYYY-MM")}
    product: Literal["single", "multi"]
    month: Month
    route: Text | None = None
    category: Text | None = None


class Payment(Request):
    amount_vnd: Annotated[int, Meta(ge=0, le=2**53 - 1, description="the cash taken, in dong")]


class FreePassRequest(Request):
    category: Text


class ApplicationRequest(Request):
    messages = {"evidence_type": N_("evidence must be one of image/png, image/jpeg, "
                                    "application/pdf")}
    category: Text
    evidence_note: Annotated[str, Meta(max_length=1000)]
    evidence: Annotated[str, Meta(max_length=EVIDENCE_CHARS,
                                  description="base64 of a PNG, JPEG or PDF, at most 2 MiB")] \
        | None = None
    evidence_type: Literal["image/png", "image/jpeg", "application/pdf"] | None = None


class Jwk(Struct):
    """A P-256 public key as a JWK. Other members (key_ops, ext) are ignored: WebCrypto
    exports them."""
    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: Annotated[str, Meta(max_length=64)]
    y: Annotated[str, Meta(max_length=64)]


DevicePoint = Annotated[str, Meta(max_length=200, description=(
    "base64url of a P-256 SEC1 point, compressed (33 bytes) or uncompressed (65 bytes)"))]


class DeviceRequest(Request):
    """What a phone sends as its key: WebCrypto exports the raw point or a JWK."""
    messages = {"public_key": N_("public_key must be a base64url string or a JWK object "
                                 "holding a P-256 public key (kty EC, crv P-256, x, y)")}
    public_key: DevicePoint | Jwk
    label: Annotated[str, Meta(max_length=100)] | None = None


class RouteRequest(Request):
    messages = {"code": N_("route code must be 1 to 16 letters, digits or dashes")}
    code: Annotated[str, Meta(min_length=1, max_length=16,
                              description="upper-case letters, digits and dashes")]
    name: Name


class AccountRequest(Request):
    full_name: Name
    birth_date: Annotated[str, Meta(max_length=12, description="YYYY-MM-DD")]
    national_id: Annotated[str, Meta(max_length=12, description="12 digits")] | None = None
    identity_level: Literal[1, 2] = 2


class IssueRequest(Request):
    account_id: Text
    product: Text
    route: Text | None = None
    month: Text | None = None
    category: Text | None = None


# -- answers --------------------------------------------------------------------------------

class Answer(Struct, forbid_unknown_fields=True):
    """An answer body: the schema test fails on a field the document does not name."""


class Error(Answer):
    """``error``: English, stable, for programs and logs. ``message``: the same in the caller's
    language, for people."""
    error: str
    message: str | None = None


class BankAnswer(Answer):
    outcome: Literal["paid", "duplicate", "not_found", "wrong_amount", "not_payable",
                     "declined", "outgoing"]
    detail: str
    payment_id: int | None


class IpnAnswer(Answer):
    """The merchant's answer to a gateway's IPN (VNPay 2.1): 00 confirmed, 01 order not
    found, 02 already confirmed, 04 wrong amount, 97 bad signature, 99 not recorded (call
    again)."""
    RspCode: Literal["00", "01", "02", "04", "97", "99"]
    Message: str


class Credential(Answer):
    pass_id: str
    credential: Annotated[str, Meta(description="compact JWS (EdDSA)")]
    expires: Annotated[int, Meta(description="Unix seconds")]
    device_key: Annotated[str, Meta(description="the bound key, base64url compressed point")]
    custodial: bool
    qr_body_head: Annotated[str, Meta(description=(
        "base64url of the QR body's head (the DEFLATEd credential and its signature): the "
        "phone appends the time and its proof signature, then base45-encodes after VX1:"))]


class Bound(Credential):
    """A credential for a phone just bound; ``published`` when the pass left another phone
    (the denylist reached the validators, or a warning says it did not yet)."""
    published: bool | None = None
    warning: str | None = None


class Custodial(Answer):
    pass_id: str
    custodial: bool
    device_key: str
    expires: int
    published: bool | None = None
    warning: str | None = None


class Route(Answer):
    code: str
    name: str


class Routes(Answer):
    routes: list[Route]


class Device(Answer):
    key: str
    custodial: bool
    bound_at: int


class RenewalOrder(Answer):
    id: str
    expires_at: int | None  # unpaid by then, it lapses (None: never)


class Renewal(Answer):
    """For the card's reminder to renew a monthly pass (issuer.sales.reminders.renewal)."""
    remind_from: Annotated[int, Meta(description="the reminder shows from this moment")]
    held: Annotated[bool, Meta(description="the rider holds next month's pass")]
    order: RenewalOrder | None  # next month ordered, waiting for payment


class Pass(Answer):
    id: str
    account_id: str
    product: str
    route: str | None
    category: str | None
    valid_from: int
    valid_until: int
    valid_from_local: str
    valid_until_local: str
    status: str
    revoked_at: int | None
    revoke_reason: str | None
    revoke_code: str | None  # why, as issuer.passes.revocation names it
    credentials_until: int | None
    created_at: int
    device: Device | None
    published: bool | None = None
    warning: str | None = None
    # In the rider's own list (/api/me/passes): null for a pass that is not renewed.
    renewal: Renewal | None = None


class Passes(Answer):
    passes: list[Pass]


class Order(Answer):
    id: str
    account_id: str
    product: str
    route: str | None
    month: str
    category: str | None
    price_vnd: int
    provider: str
    status: str
    created_at: int
    paid_at: int | None
    payment_ref: str | None
    handled_by: str | None
    cancelled_at: int | None
    refunded_at: int | None
    refund_reason: str | None
    pass_id: str | None
    expires_at: int | None = None
    refund_vnd: int | None = None
    payment_instructions: dict | None = None
    refund_instructions: dict | None = None
    published: bool | None = None
    warning: str | None = None


class Orders(Answer):
    orders: list[Order]


class CardPayment(Answer):
    """Where the rider's browser goes to pay the order by card or e-wallet."""
    order_id: str
    payment_url: str


class Account(Answer):
    id: str
    full_name: str
    birth_date: str
    identity_level: int
    has_photo: bool
    created_at: int


class NewAccount(Account):
    rider_token: Annotated[str, Meta(description="shown once, never again")]


REQUESTS = (Empty, Reason, Revocation, Decision, OrderRequest, Payment, FreePassRequest,
            ApplicationRequest, DeviceRequest, RouteRequest, AccountRequest, IssueRequest,
            BankCredit)
ANSWERS = (Error, Credential, Bound, Custodial, Routes, Route, Pass, Passes, Order, Orders,
           Account, NewAccount, IpnAnswer, BankAnswer)


def components() -> dict:
    """JSON Schema of every shape, keyed by class name, for the document's components."""
    _, schemas = msgspec.json.schema_components(
        REQUESTS + ANSWERS, ref_template="#/components/schemas/{name}")
    return schemas


def ref(shape: type) -> dict:
    return {"$ref": f"#/components/schemas/{shape.__name__}"}


def as_builtins(value: Struct) -> dict:
    """A parsed body as plain values, for the domain functions that take dicts (a JWK)."""
    return msgspec.to_builtins(value)
