"""The trip record: one scan as a validator journals it, pushes it to Redis and the ingest
reads it. The one definition of its shape: the validator builds it, the ingest decodes and
checks it with the same structure.

It names the pass, never the person. Field names are the wire format of the trips stream.
Built in Python (on the validator) a trip is not checked; decoded from JSON (the ingest, a
journal read back) every field is: types, lengths (the columns of backoffice.models.Trip),
allowed values, UTF-8 without lone surrogates, in one pass of msgspec's C decoder.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

import msgspec

from shared.reasons import REASONS

ACCEPT = "accept"
REFUSE = "refuse"
BOARD = "board"  # front door: passback rules apply
ALIGHT = "alight"  # rear door, or the validator switched by the driver: closes a journey
BY_GPS = "gps"  # the stop was found from the vehicle's position (validator.locate)
BY_HAND = "manual"  # the stop was set by the driver, the bus's systems or the configuration
STOP_BY = (BY_GPS, BY_HAND)

MAX_MS = 2**53  # past any clock; keeps the value exact in JSON and in every database
STOP_LEN = 64  # a GTFS stop_id, as the network's stops table keeps it (issuer.network.gtfs)


def _text(limit: int):
    return Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]


# Column widths of backoffice.models.Trip.
Id, Name, Plate, Route, Stop = _text(32), _text(64), _text(32), _text(16), _text(STOP_LEN)
Code, PassId, Product, Category, Company = _text(32), _text(16), _text(16), _text(32), _text(16)
Millis = Annotated[int, msgspec.Meta(ge=0, lt=MAX_MS)]  # a bool is not an int here


def new_trip_id(at_ms: int) -> str:
    """A trip id minted on the validator: 12 hex digits of milliseconds, then 8 random.

    Ids sort by scan time; the random part keeps ids from two validators in the same
    millisecond apart.
    """
    return f"{at_ms:012x}{secrets.token_hex(4)}"


class Trip(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One scan. Fields a reader does not know are ignored (validators may be updated
    before the ingest); a field an older validator leaves out takes its default (trips
    journaled before ``stop_by`` existed read as None)."""

    id: Id
    validator: Name
    vehicle: Plate
    route: Route
    stop: Stop | None = None  # the GTFS stop id when the stop was located, else as set
    at_ms: Millis  # scan time, Unix milliseconds (validator clock)
    decision: Literal["accept", "refuse"]
    reason: Literal[REASONS]  # a code from shared.reasons
    pass_id: PassId | None = None  # None when the QR could not be read far enough
    product: Literal["single", "multi", "free"] | None = None
    category: Category | None = None
    proof_at: Millis | None = None  # the proof time the phone signed, Unix seconds
    mode: Literal["board", "alight"] = BOARD
    company: Company | None = None  # the bus company running the vehicle, for settlement
    stop_by: Literal["gps", "manual"] | None = None  # how ``stop`` was known; None: no stop

    def to_json(self) -> str:
        return _ENCODER.encode(self).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> "Trip":
        """The trip in ``text``; msgspec.ValidationError or DecodeError if it is none."""
        return DECODER.decode(text)


_ENCODER = msgspec.json.Encoder()
DECODER = msgspec.json.Decoder(Trip)
