"""Stream entries to trip rows: every field checked, so the database never refuses a row.

A batch is one transaction: a row the database refused (a string too long for its column)
would fail the whole batch again at every retry. An entry that is not a trip is turned away
here, with the reason, and the rest of the batch goes on.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from issuer.ridership.buckets import day_of, hour_of
from shared.reasons import REASONS
from shared.trip import ACCEPT, ALIGHT, BOARD, REFUSE

REQUIRED = ("id", "validator", "vehicle", "route", "at_ms", "decision", "reason")
# Column widths of issuer.ridership.models.Trip.
LENGTHS = {"id": 32, "validator": 64, "vehicle": 32, "route": 16, "stop": 32, "reason": 32,
           "pass_id": 16, "product": 16, "category": 32, "company": 16}
PRODUCTS = ("single", "multi", "free")
MAX_MS = 2**53  # past any clock; keeps the value exact in JSON and in every database


class NotATrip(ValueError):
    """A stream entry that cannot be counted; the message says why."""


class Row(NamedTuple):
    """A trip as the ingest writes it, with its rollup keys. A tuple, not a dataclass: a
    worker makes tens of thousands a second."""

    id: str
    validator: str
    vehicle: str
    route: str
    stop: str | None
    at_ms: int
    decision: str
    reason: str
    pass_id: str | None
    product: str | None
    category: str | None
    proof_at: int | None
    mode: str
    company: str | None  # as the validator knows it; else the vehicle's company here
    stream_ms: int
    hour: int  # rollup buckets (buckets.hour_of, day_of)
    day: int
    product_key: str  # free passes count by category: "free:elderly"

    @property
    def accepted(self) -> bool:
        return self.decision == ACCEPT


def product_key(product: str | None, category: str | None) -> str:
    if product == "free" and category:
        return f"free:{category}"
    return product or ""


def stream_ms(entry_id: str) -> int:
    """The Redis time an entry was added: the first part of its id."""
    return int(entry_id.split("-", 1)[0])


def parse(entry_id: str, fields: dict) -> Row:
    """The trip in a stream entry (``{"trip": <Trip JSON>}``), or NotATrip."""
    raw = fields.get(b"trip", fields.get("trip"))
    if raw is None:
        raise NotATrip("the entry has no 'trip' field")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise NotATrip("the trip is not JSON") from None
    if not isinstance(data, dict):
        raise NotATrip("the trip is not a JSON object")
    # Fields this version does not know are ignored: validators may be updated first.
    for name in REQUIRED:
        if data.get(name) is None:
            raise NotATrip(f"field {name!r} is missing")
    for name, limit in LENGTHS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            raise NotATrip(f"field {name!r} must be a string of 1 to {limit} characters")
    for name in ("at_ms", "proof_at"):
        value = data.get(name)
        if value is not None and (type(value) is not int or not 0 <= value < MAX_MS):
            raise NotATrip(f"field {name!r} must be a non-negative integer")
    if data["decision"] not in (ACCEPT, REFUSE):
        raise NotATrip(f"decision must be {ACCEPT!r} or {REFUSE!r}")
    if data["reason"] not in REASONS:
        raise NotATrip(f"unknown reason {data['reason']!r}")
    if (data["decision"] == ACCEPT) != (data["reason"] == "ok"):
        raise NotATrip("an accepted trip has reason 'ok', and only an accepted trip")
    mode = data.get("mode", BOARD)
    if mode not in (BOARD, ALIGHT):
        raise NotATrip(f"mode must be {BOARD!r} or {ALIGHT!r}")
    product = data.get("product")
    if product is not None and product not in PRODUCTS:
        raise NotATrip(f"unknown product {product!r}")
    if data["decision"] == ACCEPT and data.get("pass_id") is None:
        raise NotATrip("an accepted trip names its pass")
    at_ms, category = data["at_ms"], data.get("category")
    return Row(data["id"], data["validator"], data["vehicle"], data["route"], data.get("stop"),
               at_ms, data["decision"], data["reason"], data.get("pass_id"), product, category,
               data.get("proof_at"), mode, data.get("company"), stream_ms(entry_id),
               hour_of(at_ms), day_of(at_ms), product_key(product, category))
