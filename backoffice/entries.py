"""Stream entries to trip rows: every field checked, so the database never refuses a row.

A batch is one transaction: a row the database refused (a string too long for its column, a
NUL character, which PostgreSQL's text cannot hold) would fail the whole batch. An entry that
is not a trip is turned away here, with the reason, and the rest of the batch goes on. (A
row the database refuses anyway is found by the worker, which splits the batch.)

The trip's JSON is decoded and checked against :class:`shared.trip.Trip` (the one definition
of a trip's shape, which validators build) in one pass of msgspec's C
decoder (types, lengths, allowed values, UTF-8 without lone surrogates); the rules between
fields, and the trip's time against when it reached Redis, follow in Python.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from backoffice.buckets import day_of, hour_of
from shared.ticket import DEFAULT_FRESHNESS
from shared.trip import ACCEPT, DECODER, Trip

# A trip is some hundreds of bytes; one much longer is not decoded at all.
MAX_TRIP_BYTES = 4096
# How far a trip's time may be past the moment its entry reached Redis: the validator's clock
# may be ahead of Redis's by as much as a proof's freshness window, and no more.
AHEAD_MS = DEFAULT_FRESHNESS * 1000
# How old a trip the ingest still counts, by default (a validator's journal kept unsent
# through a long breakdown): older days are reported on and settled already.
MAX_AGE_DAYS = 35


class NotATrip(ValueError):
    """A stream entry that cannot be counted; the message says why."""


class Row(NamedTuple):
    """A trip (:class:`shared.trip.Trip`) as the ingest writes it, with its rollup keys. A
    tuple, not a dataclass: a worker makes tens of thousands a second."""

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
    stop_by: str | None = None  # "gps", "manual", or None (an older validator, or no stop)

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


def field(fields, name: str) -> bytes | str | None:
    """The field ``name`` of an entry, given as Redis sends it (a flat list of names and
    values) or as a mapping."""
    if isinstance(fields, dict):
        return fields.get(name.encode(), fields.get(name))
    for i in range(0, len(fields) - 1, 2):
        if fields[i] in (name.encode(), name):
            return fields[i + 1]
    return None


def _decoded(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# The only way JSON writes a NUL character: the text is searched for it before any field is.
_NUL_ESCAPE = "\\u0000"
_NUL_ESCAPE_BYTES = _NUL_ESCAPE.encode()
_TEXT_FIELDS = ("id", "validator", "vehicle", "route", "stop", "pass_id", "category", "company")


def parse(entry_id: str, fields, *, oldest_ms: int = 0) -> Row:
    """The trip in a stream entry (``{"trip": <Trip JSON>, "from": <validator>}``), or
    NotATrip. A trip timed before ``oldest_ms``, or more than AHEAD_MS after its entry
    reached Redis, is not counted.

    ``from`` names the validator whose inbox the trip came from (backoffice.inbox):
    a trip naming another validator is refused, so no validator passes its trips for
    another's. An entry with no ``from`` was written to the stream by the operator's own
    users, the only ones that may write it. ``refused`` is an entry the move turned away."""
    refused = field(fields, "refused")
    if refused is not None:
        raise NotATrip(_decoded(refused))
    raw = field(fields, "trip")
    if raw is None:
        raise NotATrip("the entry has no 'trip' field")
    if len(raw) > MAX_TRIP_BYTES:
        raise NotATrip(f"the trip is {len(raw)} bytes long, at most {MAX_TRIP_BYTES}")
    try:
        t = DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise NotATrip(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise NotATrip(f"the trip is not JSON: {exc}") from None
    if (_NUL_ESCAPE_BYTES if isinstance(raw, bytes) else _NUL_ESCAPE) in raw:
        _no_nul(t)
    accepted = t.decision == ACCEPT
    if accepted != (t.reason == "ok"):
        raise NotATrip("an accepted trip has reason 'ok', and only an accepted trip")
    if accepted and t.pass_id is None:
        raise NotATrip("an accepted trip names its pass")
    sender = field(fields, "from")
    if sender is not None and _decoded(sender) != t.validator:
        raise NotATrip(f"a trip of validator {t.validator!r} from the inbox of "
                       f"{_decoded(sender)[:64]!r}")
    at_ms = t.at_ms
    arrived_ms = stream_ms(entry_id)
    if at_ms > arrived_ms + AHEAD_MS:
        raise NotATrip(f"at_ms {at_ms} is {(at_ms - arrived_ms) // 1000} s after the trip "
                       f"reached Redis ({arrived_ms}): the validator's clock is wrong")
    if at_ms < oldest_ms:
        raise NotATrip(f"at_ms {at_ms} is before {oldest_ms}, the oldest time the ingest "
                       f"counts (VEXE_INGEST_MAX_AGE_DAYS)")
    if not t.id.startswith(f"{at_ms:012x}"):
        # The key of trips is (id, at_ms) (PostgreSQL partitions them by at_ms): a trip sent
        # again with another time would be a second row, counted twice.
        raise NotATrip(f"the id {t.id!r} does not begin with at_ms {at_ms} in hex "
                       f"({at_ms:012x}): a validator's id begins with the scan's time")
    return Row(t.id, t.validator, t.vehicle, t.route, t.stop, at_ms, t.decision, t.reason,
               t.pass_id, t.product, t.category, t.proof_at, t.mode, t.company,
               arrived_ms, hour_of(at_ms), day_of(at_ms),
               product_key(t.product, t.category), t.stop_by)


def _no_nul(t: Trip) -> None:
    """NotATrip if a text field holds a NUL character: PostgreSQL's text cannot."""
    for name in _TEXT_FIELDS:
        value = getattr(t, name)
        if value is not None and "\x00" in value:
            raise NotATrip(f"a NUL character - at `$.{name}`")
