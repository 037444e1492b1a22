"""The validator's decision: is this QR text a ride, and if not, why not.

One function, :func:`check`, runs the steps in a fixed order and stops at the first that
refuses; every refusal carries a stable reason code (shared.reasons). Nothing in here reads
the clock, the network or the disk: ``now`` and the state are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared import reasons, ticket
from shared.denylist import Denylist
from shared.errors import TicketError
from shared.keys import TrustList
from shared.ticket import Claims

DEFAULT_FRESHNESS = ticket.DEFAULT_FRESHNESS  # seconds either side of the validator clock
DEFAULT_PASSBACK = 600  # the same pass on the same vehicle within this is refused


class History(Protocol):
    """What the validator remembers of earlier accepted scans (its journal)."""

    def proof_used(self, pass_id: str, proof_at: int) -> bool:
        """True if a scan with this pass and proof time was accepted before."""

    def accepted_since(self, pass_id: str, vehicle: str, since_ms: int) -> bool:
        """True if this pass was accepted boarding this vehicle at or after ``since_ms``."""


@dataclass(frozen=True)
class Decision:
    reason: str
    claims: Claims | None = None
    proof_at: int | None = None

    @property
    def accepted(self) -> bool:
        return self.reason == reasons.OK

    def to_dict(self) -> dict:
        return {"decision": "accept" if self.accepted else "refuse", "reason": self.reason,
                "message": reasons.message(self.reason),
                "pass": self.claims.summary() if self.claims else None}


def check(text: str, *, trust: TrustList, denylist: Denylist, route: str, vehicle: str,
          now: float, history: History | None = None, freshness: int = DEFAULT_FRESHNESS,
          passback: int = DEFAULT_PASSBACK) -> Decision:
    """Decide on a scanned QR text at Unix time ``now``. Never raises on any input text.

    Passback guards boardings only: a validator in alighting mode passes ``passback=0`` and
    the scan is otherwise checked in full (signatures, validity, route, freshness, replay).
    """
    try:
        parsed = ticket.parse_qr(text)
        claims = ticket.verify_credential(parsed, trust, now)
    except TicketError as exc:
        return Decision(exc.reason)
    try:
        ticket.verify_proof(parsed, claims)
    except TicketError as exc:
        # The issuer vouched for these claims: journal whose credential was copied.
        return Decision(exc.reason, claims, parsed.proof_time)
    reason = _rules(claims, parsed.proof_time, denylist=denylist, route=route, vehicle=vehicle,
                    now=now, history=history, freshness=freshness, passback=passback)
    return Decision(reason, claims, parsed.proof_time)


def _rules(claims: Claims, proof_at: int, *, denylist, route, vehicle, now, history,
           freshness, passback) -> str:
    # Order matters only for the message the rider sees: the most useful one first.
    refusal = denylist.refusal(claims.pid, claims.device_key)
    if refusal is not None:  # revoked, or moved to another phone
        return refusal
    # The credential was minted by the issuer's clock; allow the freshness window of skew.
    if now + freshness < claims.nbf:
        return "not_yet_valid"
    # The month boundary is exact: a November pass is void at 00:00 on 1 December Hanoi time.
    # Checked before the credential's expiry, which is capped at the pass's end: a rider
    # whose pass is over must not be told to refresh it.
    if not claims.valid_from <= now < claims.valid_until:
        return "outside_validity"
    if now >= claims.exp:
        return "expired"
    if not claims.covers_route(route):
        return "wrong_route"
    if abs(now - proof_at) > freshness:
        return "stale_proof"
    if history is not None:
        if history.proof_used(claims.pid, proof_at):
            return "replayed"
        if passback > 0 and history.accepted_since(claims.pid, vehicle, int((now - passback) * 1000)):
            return "passback"
    return reasons.OK
