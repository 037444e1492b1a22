"""Fixtures for the validator's tests: an issuer, validators in temporary directories, Redis."""

from __future__ import annotations

import pytest
import redis

from validator.device import Validator
from tests.testkit import ROUTE, Issuer


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def make_validator(tmp_path, issuer):
    """Validators with the issuer's trust list already in their cache; closed after the test."""
    made = []

    def make(validator_id: str = "V1", vehicle: str = "29B-00001", route: str = ROUTE,
             trusted: bool = True, **options) -> Validator:
        data_dir = tmp_path / f"validator-{validator_id}"
        validator = Validator(validator_id=validator_id, vehicle=vehicle, route=route,
                              data_dir=data_dir, **options)
        if trusted:
            validator.lists.update_trust(issuer.trust.dumps())
        made.append(validator)
        return validator

    yield make
    for validator in made:
        validator.close()


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
