"""The move of the validators' inboxes into the trips stream (backoffice.inbox): each
entry once, whoever moves, named by its inbox; a Redis without the functions gets them."""

from __future__ import annotations

import threading

import redis

from backoffice import inbox, ingest
from shared import redis_functions
from shared.redis_keys import TRIPS_STREAM, inbox as inbox_key, ready, trips_stream
from tests.testkit import wait_for
from validator.sync import marks_key

VALIDATORS = [f"V{n}" for n in range(8)]


def push(client: redis.Redis, validator: str, trips: list[str], start: int = 1) -> None:
    """Trips pushed by ``validator`` as its sync pushes them (vexe_push)."""
    args = [arg for n, trip in enumerate(trips, start) for arg in (n, trip)]
    client.fcall("vexe_push", 3, inbox_key(validator), marks_key(validator), ready(),
                 f"{validator}/e", 0, *args)


def moved(client: redis.Redis, stream: str = TRIPS_STREAM) -> list[tuple[str, str]]:
    return [(fields[b"from"].decode(), fields[b"trip"].decode())
            for _, fields in client.xrange(stream)]


def test_workers_moving_at_once_move_each_entry_once_in_order(redis_server):
    admin = redis.Redis.from_url(redis_server.url)
    sent = {v: [f'{{"n":{n},"v":"{v}"}}' for n in range(3000)] for v in VALIDATORS}
    for validator, trips in sent.items():
        for n in range(0, len(trips), 500):
            push(admin, validator, trips[n:n + 500], start=n + 1)
    counts: list[int] = []

    def work() -> None:
        client = redis.Redis.from_url(redis_server.url)
        try:
            counts.append(inbox.move(client, most=7000))
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts.append(inbox.move(admin))  # whatever the four left

    entries = moved(admin)
    assert sum(counts) == len(entries) == 8 * 3000
    for validator, trips in sent.items():
        assert [t for v, t in entries if v == validator] == trips
    assert admin.exists(ready(), *(inbox_key(v) for v in VALIDATORS)) == 0
    admin.close()


def test_only_inboxes_of_the_streams_shard_are_moved(redis_server):
    """Names in the ready set are read only as inboxes of the stream's own shard."""
    admin = redis.Redis.from_url(redis_server.url)
    push(admin, "V1", ['{"a":1}'])
    admin.rpush(inbox_key("V2", "depot-2"), '{"b":2}')
    admin.set("vexe:other", "x")
    admin.sadd(ready(), inbox_key("V2", "depot-2"), "vexe:other", "vexe:{trips}:in:",
               TRIPS_STREAM)
    assert inbox.move(admin) == 1
    assert moved(admin) == [("V1", '{"a":1}')]
    assert admin.llen(inbox_key("V2", "depot-2")) == 1 and admin.get("vexe:other") == b"x"
    assert admin.xlen(trips_stream("depot-2")) == 0
    admin.close()


def test_an_ingest_worker_loads_the_functions_a_redis_lacks(redis_server, tmp_path):
    """A Redis that restarted empty (no persistence): the worker loads the functions, and
    validators push again."""
    from issuer.platform import db

    url = f"sqlite:///{tmp_path / 'ridership.db'}"
    db.migrate(url)
    admin = redis.Redis.from_url(redis_server.url)
    admin.function_delete(redis_functions.LIBRARY)
    client = ingest.connect(redis_server.url)
    worker = ingest.Worker(url, client, "w1", block_ms=10)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: admin.function_list(library=redis_functions.LIBRARY))
        push(admin, "V1", ['{"a":1}'])
        wait_for(lambda: admin.xlen(TRIPS_STREAM) == 1)
    finally:
        stop.set()
        thread.join(10)
        client.close()
        admin.close()
        db.dispose(url)
