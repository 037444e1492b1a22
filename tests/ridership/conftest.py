"""Fixtures for the ridership tests: a migrated database, the trips stream as validators
fill it (XADD of ``trip`` = the trip's JSON), and ingest workers on both."""

from __future__ import annotations

import pytest
import redis

from issuer.platform import db
from backoffice import ingest
from shared.redis_keys import TRIPS_STREAM
from ridership_testkit import TripMaker


@pytest.fixture
def migrated(database_url, schema_templates):
    schema_templates.migrate(database_url)  # db.migrate, by a copy
    yield database_url
    db.dispose(database_url)


@pytest.fixture
def stream(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield Stream(client)
    client.close()


class Stream:
    """The trips stream, written the way the validators' push script writes it."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def push(self, *trips) -> list[str]:
        with self.client.pipeline(transaction=False) as pipe:
            for trip in trips:
                pipe.xadd(TRIPS_STREAM, {"trip": trip.to_json() if hasattr(trip, "to_json")
                                         else trip})
            return [i.decode() for i in pipe.execute()]

    def push_fields(self, fields: dict) -> str:
        return self.client.xadd(TRIPS_STREAM, fields).decode()

    def pending(self) -> int:
        return self.client.xpending(TRIPS_STREAM, "ingest")["pending"]


@pytest.fixture
def worker_factory(migrated, redis_url):
    clients = []

    def make(consumer: str = "w1", **kwargs) -> ingest.Worker:
        client = ingest.connect(redis_url)
        clients.append(client)
        worker = ingest.Worker(migrated, client, consumer, **kwargs)
        worker.ensure_group()
        return worker

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def worker(worker_factory):
    return worker_factory()


@pytest.fixture
def maker():
    return TripMaker()
