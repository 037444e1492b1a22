"""The issuer's tables. Times are Unix seconds (integers), like every time in vexe.

The migrations under ``issuer/platform/migrations`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so that later migrations can drop or alter them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Time = sa.BigInteger  # Unix seconds: past 2038 on every database


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class Route(Base):
    __tablename__ = "routes"

    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # "32", "E05A"
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[int] = mapped_column(Time)
    # The company running it (a GTFS agency); a code of ``companies``, whose table the
    # ridership side owns.
    company_code: Mapped[str | None] = mapped_column(sa.ForeignKey("companies.code"))
    # Gone from the network: sells no new pass, kept while passes name it.
    retired_at: Mapped[int | None] = mapped_column(Time)


class Stop(Base):
    """A place a bus stops, keyed by the GTFS feed's own ``stop_id`` (stable across imports,
    what a validator and ridership by stop will name). Each direction of a route often has
    its own stop at the same place: ``station`` groups the stops within a few metres of each
    other, one place for ridership and transfers."""

    __tablename__ = "stops"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    station: Mapped[str] = mapped_column(sa.String(64), index=True)  # a stop id of the group
    created_at: Mapped[int] = mapped_column(Time)
    retired_at: Mapped[int | None] = mapped_column(Time)  # gone from the latest feed


class RouteStop(Base):
    """The ordered stops of a route in one direction (GTFS ``direction_id`` 0 or 1)."""

    __tablename__ = "route_stops"

    route_code: Mapped[str] = mapped_column(sa.ForeignKey("routes.code"), primary_key=True)
    direction: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # 0, 1, 2...
    stop_id: Mapped[str] = mapped_column(sa.ForeignKey("stops.id"), index=True)


class ShapePoint(Base):
    """The path a route drives in one direction, from the feed's shapes."""

    __tablename__ = "shape_points"

    route_code: Mapped[str] = mapped_column(sa.ForeignKey("routes.code"), primary_key=True)
    direction: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)


class Product(Base):
    """What a rider can hold; rows are seeded by the first migration."""

    __tablename__ = "products"

    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # single, multi, free
    name_vi: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    price_vnd: Mapped[int] = mapped_column(sa.Integer)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    birth_date: Mapped[dt.date] = mapped_column(sa.Date)
    photo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    identity_level: Mapped[int] = mapped_column(sa.Integer, default=2)
    # Keyed HMAC-SHA256 of the national ID number: finds a duplicate, never reveals it.
    national_id_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    rider_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # "<issuer>|<sub>" of the e-ID the account signs in with; None for accounts made by hand.
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(300), unique=True)
    created_at: Mapped[int] = mapped_column(Time)
    # Where reminders to renew go, if the rider gave an address (issuer.sales.reminders).
    email: Mapped[str | None] = mapped_column(sa.String(254))


class Pass(Base):
    __tablename__ = "passes"

    id: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    product: Mapped[str] = mapped_column(sa.ForeignKey("products.code"))
    route_code: Mapped[str | None] = mapped_column(sa.ForeignKey("routes.code"))
    category: Mapped[str | None] = mapped_column(sa.String(32))
    valid_from: Mapped[int] = mapped_column(Time)
    valid_until: Mapped[int] = mapped_column(Time)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    revoked_at: Mapped[int | None] = mapped_column(Time)
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # Why, as a code of issuer.passes.revocation (the rider is told its words).
    revoke_code: Mapped[str | None] = mapped_column(sa.String(32))
    # A clerk allowed the account a new free pass after this pass's revocation for fraud.
    free_allowed_at: Mapped[int | None] = mapped_column(Time)
    # The latest exp of any credential issued: the denylist keeps a revoked pass until then.
    credentials_until: Mapped[int] = mapped_column(Time, default=0)
    # When the pass last moved to another device, and the latest exp of a credential issued
    # to an earlier one: until then the denylist names the one device key still accepted.
    replaced_at: Mapped[int | None] = mapped_column(Time)
    replaced_until: Mapped[int] = mapped_column(Time, default=0, server_default="0")
    # The rate of the phone's refreshes, counted by the refresh's one statement
    # (issuer.passes.refresh): when the next one is due, in milliseconds (GCRA).
    refresh_tat_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[int] = mapped_column(Time)

    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'revoked')", name="status"),
        # The denylist query: revoked passes with credentials still alive.
        sa.Index("ix_passes_status_credentials_until", "status", "credentials_until"),
        sa.Index("ix_passes_replaced_until", "replaced_until"),
    )


class DeviceBinding(Base):
    """The device key a pass is bound to. One active (not retired) binding per pass."""

    __tablename__ = "device_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[str] = mapped_column(sa.ForeignKey("passes.id"), index=True)
    device_key: Mapped[str] = mapped_column(sa.String(64))  # base64url compressed P-256 point
    label: Mapped[str | None] = mapped_column(sa.String(100))  # the rider's name for the phone
    custodial: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Custodial only: the device private key sealed with the sealing key, and the credential
    # the issuer presents on the rider's behalf.
    sealed_private_key: Mapped[str | None] = mapped_column(sa.Text)
    credential: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[int] = mapped_column(Time)
    retired_at: Mapped[int | None] = mapped_column(Time)
    retire_reason: Mapped[str | None] = mapped_column(sa.String(500))  # a phone reported lost

    __table_args__ = (
        # A second active binding is refused by the database itself, even under a race.
        sa.Index("uq_device_bindings_active_pass", "pass_id", unique=True,
                 sqlite_where=sa.text("retired_at IS NULL"),
                 postgresql_where=sa.text("retired_at IS NULL")),
    )


class Credential(Base):
    """A log of every credential issued: which key signed it and how long it lives."""

    __tablename__ = "credentials"

    jti: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    pass_id: Mapped[str] = mapped_column(sa.ForeignKey("passes.id"), index=True)
    binding_id: Mapped[int] = mapped_column(sa.ForeignKey("device_bindings.id"))
    kid: Mapped[str] = mapped_column(sa.String(16))
    nbf: Mapped[int] = mapped_column(Time)
    exp: Mapped[int] = mapped_column(Time)


class SigningKey(Base):
    """An issuer Ed25519 key. The newest key not retired signs; all not retired verify."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)  # creation order, even within a second
    kid: Mapped[str] = mapped_column(sa.String(16), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    # PKCS8 PEM sealed with the sealing key. Never served, never logged.
    sealed_private_key: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[int] = mapped_column(Time)
    retired_at: Mapped[int | None] = mapped_column(Time)


class Operator(Base):
    """A person who runs the network: sales clerk, approver, administrator or analyst."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # werkzeug's salted scrypt hash; None: this operator uses API tokens only.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    roles: Mapped[str] = mapped_column(sa.String(200))  # space-separated role names
    created_at: Mapped[int] = mapped_column(Time)
    disabled_at: Mapped[int | None] = mapped_column(Time)


class OperatorToken(Base):
    """An API token of an operator, scoped to one of that operator's roles. Only its hash is
    kept; the token is shown once."""

    __tablename__ = "operator_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operators.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[int] = mapped_column(Time)
    revoked_at: Mapped[int | None] = mapped_column(Time)


class WebSession(Base):
    """A signed-in browser: an operator's or a rider's. The cookie carries a random id whose
    hash is this row's key, so signing out (or disabling an operator) ends it everywhere and
    a copied cookie replayed after sign-out is refused."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operators.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    created_at: Mapped[int] = mapped_column(Time)
    expires_at: Mapped[int] = mapped_column(Time)
    ended_at: Mapped[int | None] = mapped_column(Time)

    __table_args__ = (
        sa.CheckConstraint("(operator_id IS NULL) <> (account_id IS NULL)", name="one_principal"),
    )


class AuditEntry(Base):
    """One operator action: who did what to which thing, when, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int] = mapped_column(Time, index=True)
    actor: Mapped[str] = mapped_column(sa.String(100), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))


class FareCategory(Base):
    """A group of riders who pay a reduced price or ride free. The rules are rows, not code:
    an age range decides it alone unless ``needs_approval``, when an approver looks at the
    rider's evidence."""

    __tablename__ = "fare_categories"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "reduced" or "free"
    name_vi: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    min_age: Mapped[int | None] = mapped_column(sa.Integer)
    max_age: Mapped[int | None] = mapped_column(sa.Integer)
    needs_approval: Mapped[bool] = mapped_column(sa.Boolean)
    validity_months: Mapped[int] = mapped_column(sa.Integer)  # of an approval or a free pass

    __table_args__ = (sa.CheckConstraint("kind IN ('reduced', 'free')", name="kind"),)


class ProductPrice(Base):
    """A product's reduced price for one fare category."""

    __tablename__ = "product_prices"

    product: Mapped[str] = mapped_column(sa.ForeignKey("products.code"), primary_key=True)
    category: Mapped[str] = mapped_column(sa.ForeignKey("fare_categories.code"), primary_key=True)
    price_vnd: Mapped[int] = mapped_column(sa.Integer)


class Application(Base):
    """A rider's request to be recognised in a fare category, with evidence for an approver."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    category: Mapped[str] = mapped_column(sa.ForeignKey("fare_categories.code"))
    evidence_note: Mapped[str] = mapped_column(sa.String(1000))
    evidence: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # an image of a document
    evidence_type: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[int] = mapped_column(Time)
    decided_at: Mapped[int | None] = mapped_column(Time)
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    decision_reason: Mapped[str | None] = mapped_column(sa.String(500))
    eligible_until: Mapped[int | None] = mapped_column(Time)  # approved: until then
    pass_id: Mapped[str | None] = mapped_column(sa.ForeignKey("passes.id"))  # free pass granted

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        # One open application per rider and category, even under a double click.
        sa.Index("uq_applications_pending", "account_id", "category", unique=True,
                 sqlite_where=sa.text("status = 'pending'"),
                 postgresql_where=sa.text("status = 'pending'")),
    )


class Order(Base):
    """A monthly pass bought: the pass is issued once the order is paid."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    product: Mapped[str] = mapped_column(sa.ForeignKey("products.code"))
    route_code: Mapped[str | None] = mapped_column(sa.ForeignKey("routes.code"))
    month: Mapped[str] = mapped_column(sa.String(7))  # "2026-12"
    category: Mapped[str | None] = mapped_column(sa.ForeignKey("fare_categories.code"))
    price_vnd: Mapped[int] = mapped_column(sa.Integer)
    provider: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[int] = mapped_column(Time)
    paid_at: Mapped[int | None] = mapped_column(Time)
    payment_ref: Mapped[str | None] = mapped_column(sa.String(64))  # the receipt number
    handled_by: Mapped[str | None] = mapped_column(sa.String(100))  # who took the money
    cancelled_at: Mapped[int | None] = mapped_column(Time)
    refunded_at: Mapped[int | None] = mapped_column(Time)
    refunded_by: Mapped[str | None] = mapped_column(sa.String(100))
    refund_reason: Mapped[str | None] = mapped_column(sa.String(500))
    pass_id: Mapped[str | None] = mapped_column(sa.ForeignKey("passes.id"), unique=True)
    # Unpaid by then, the order expires: money arriving later is held for a clerk.
    expires_at: Mapped[int | None] = mapped_column(Time)
    refund_vnd: Mapped[int | None] = mapped_column(sa.BigInteger)  # what the policy gave back

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'paid', 'cancelled', 'refunded', 'expired')",
                           name="status"),
    )


class Payment(Base):
    """Money for an order, one row per attempt or transfer, whichever way it came: a
    gateway's transaction, a bank transfer, cash. Only what matches the order to the dong
    pays it; anything else is ``held`` for a clerk to apply or refund. Nothing of the
    payer's card, wallet or full account is kept: the provider's transaction id is enough
    to find it again there."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(16))  # vnpay, vietqr, counter
    # What the payer quoted (the gateway's TxnRef, the transfer's description); the order
    # it names, None when it names none.
    reference: Mapped[str] = mapped_column(sa.String(100), index=True)
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    amount_vnd: Mapped[int] = mapped_column(sa.BigInteger)
    # The provider's own id of the money movement: one payment per transaction, even when
    # its notification comes twice.
    provider_txn: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # why held, refused, refunded
    # The reason's code and values (issuer.sales.reasons), from which a page says it in its
    # reader's language; None in rows written before the codes: their English is shown.
    reason_args: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[int] = mapped_column(Time)
    settled_at: Mapped[int | None] = mapped_column(Time)
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))  # the clerk, when held
    decided_at: Mapped[int | None] = mapped_column(Time)

    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_txn"),
        sa.CheckConstraint("state IN ('started', 'paid', 'held', 'failed', 'applied', "
                           "'refunding', 'refunded')", name="state"),
    )


class PaymentNotification(Base):
    """Every notification a gateway or bank sent, written before it is answered, whatever
    its signature's verdict: the evidence when a payment is disputed."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))  # ipn, return, querydr, webhook
    received_at: Mapped[int] = mapped_column(Time, index=True)
    body: Mapped[str] = mapped_column(sa.Text)  # as received
    signature_ok: Mapped[bool] = mapped_column(sa.Boolean)
    provider_txn: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    outcome: Mapped[str | None] = mapped_column(sa.String(200))  # None: not yet settled
    outcome_args: Mapped[dict | None] = mapped_column(sa.JSON)  # as Payment.reason_args
    # A webhook's signature, once accepted: the same signed message again is a replay.
    signature: Mapped[str | None] = mapped_column(sa.String(128))

    __table_args__ = (sa.UniqueConstraint("provider", "signature"),)


class HelpRequest(Base):
    """A rider's question, or a problem reported with one of her trips, in a clerk's queue
    until a clerk answers it; the rider reads the reply on her trips page."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    # The trip it is about (a trips row's id; trips have no key to point at: they are
    # partitioned), and that trip's pass; None for a question about nothing in particular.
    trip_id: Mapped[str | None] = mapped_column(sa.String(32))
    pass_id: Mapped[str | None] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[int] = mapped_column(Time)
    answered_at: Mapped[int | None] = mapped_column(Time)
    answered_by: Mapped[str | None] = mapped_column(sa.String(100))
    reply: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (sa.CheckConstraint("status IN ('open', 'answered')", name="status"),)


class Company(Base):
    """A bus company: the authority pays it for what its vehicles carried."""

    __tablename__ = "companies"

    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[int] = mapped_column(Time)


class Vehicle(Base):
    __tablename__ = "vehicles"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # plate, "29B-123.45"
    company_code: Mapped[str] = mapped_column(sa.ForeignKey("companies.code"), index=True)
    created_at: Mapped[int] = mapped_column(Time)


class SentReminder(Base):
    """A reminder to renew e-mailed for a pass: one a pass, however often the command runs."""

    __tablename__ = "sent_reminders"

    pass_id: Mapped[str] = mapped_column(sa.ForeignKey("passes.id"), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(254))
    sent_at: Mapped[int] = mapped_column(Time)
