"""What the validator's tests share: an issuer that signs real credentials, riders with their
own device keys, and ways to look into Redis."""

from __future__ import annotations

import itertools
import time

import redis

from shared import clock, keys, ticket
from shared.redis_keys import TRIPS_STREAM, TRUST_LIST
from shared.trip import Trip

ROUTE = "32"
NOW = 1_795_000_000  # 2026-11-18 in Hanoi, a fixed moment for tests that pass `now`


class Rider:
    """One pass on one phone: a credential and the device key that signs its proofs."""

    def __init__(self, credential: str, device):
        self.credential = credential
        self.device = device

    def qr(self, at: float) -> str:
        return ticket.encode_qr(self.credential, self.device, at)


class Issuer:
    def __init__(self):
        self.signing_key = keys.new_signing_key()
        self.kid = keys.key_id(self.signing_key)
        self.trust = keys.TrustList([keys.TrustedKey(self.kid, self.signing_key.public_key())])
        self._ids = itertools.count(1)

    def rider(self, *, now: float, pass_id: str | None = None, product: str = "S",
              routes: tuple[str, ...] = (ROUTE,), category: str | None = None) -> Rider:
        n = next(self._ids)
        device = keys.new_device_key()
        valid_from, valid_until = clock.month_bounds(*clock.hanoi_month(now))
        credential = ticket.mint_credential(
            self.signing_key, jti=f"c{n}", pass_id=pass_id or f"PASS{n:04d}", product=product,
            routes=list(routes), valid_from=valid_from, valid_until=valid_until,
            device_key=keys.device_public_compressed(device), now=int(now), category=category)
        return Rider(credential, device)


def stream_trips(client: redis.Redis) -> list[Trip]:
    """Every trip in the trips stream, in stream order."""
    return [Trip.from_json(fields[b"trip"]) for _, fields in client.xrange(TRIPS_STREAM)]


def publish_trust(client: redis.Redis, issuer: Issuer) -> None:
    client.set(TRUST_LIST, issuer.trust.dumps())


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``condition`` until it is true; the value it returned, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
