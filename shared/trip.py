"""The trip record: one scan as a validator journals it and pushes it to Redis.

It names the pass, never the person. Field names are the wire format of the trips stream.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

ACCEPT = "accept"
REFUSE = "refuse"
BOARD = "board"  # front door: passback rules apply
ALIGHT = "alight"  # rear door, or the validator switched by the driver: closes a journey


def new_trip_id(at_ms: int) -> str:
    """A trip id minted on the validator: 12 hex digits of milliseconds, then 8 random.

    Ids sort by scan time; the random part keeps ids from two validators in the same
    millisecond apart.
    """
    return f"{at_ms:012x}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Trip:
    id: str
    validator: str
    vehicle: str
    route: str
    stop: str | None
    at_ms: int  # scan time, Unix milliseconds (validator clock)
    decision: str  # ACCEPT or REFUSE
    reason: str  # a code from shared.reasons
    pass_id: str | None = None  # None when the QR could not be read far enough
    product: str | None = None  # "single", "multi", "free"
    category: str | None = None
    proof_at: int | None = None  # the proof time the phone signed, Unix seconds
    mode: str = BOARD  # BOARD or ALIGHT
    company: str | None = None  # the bus company running the vehicle, for settlement

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Trip":
        return cls(**json.loads(text))
