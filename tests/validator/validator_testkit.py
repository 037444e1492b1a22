"""What the validator's tests share besides tests.testkit: a fixed moment, and the trust list
put where validators read it."""

from __future__ import annotations

import redis

from shared.redis_keys import TRUST_LIST
from validator.http import CLIENT_HEADER, create_app
from tests.testkit import Issuer

NOW = 1_795_000_000  # 2026-11-18 in Hanoi, a fixed moment for tests that pass `now`


def publish_trust(client: redis.Redis, issuer: Issuer) -> None:
    client.set(TRUST_LIST, issuer.trust.dumps())


def http_client(validator, **options):
    """A Flask test client of the validator's HTTP door, sending on every request the header
    the door asks of the programs on the box."""
    client = create_app(validator, **options).test_client()
    client.environ_base["HTTP_" + CLIENT_HEADER.upper().replace("-", "_")] = "test"
    return client
