"""The sync loop: Redis away for a while, Redis stuck, stopping; scanning never waits for it."""

import socket
import threading

import pytest
import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from shared import clock
from validator import sync
from validator.sync import Syncer, connect
from validator_testkit import publish_trust
from tests.testkit import stream_trips, wait_for


class NotedStop(threading.Event):
    """The loop's stop event, noting each wait the loop asks of it: whether it backs off
    instead of spinning is then read from the waits, not from a count of rounds in a time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return super().wait(timeout)


def start(syncer: Syncer, stop: threading.Event | None = None
          ) -> tuple[threading.Event, threading.Thread]:
    stop = stop or threading.Event()
    thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_redis_away_then_back_every_trip_arrives_once(make_validator, issuer, redis_server):
    validator = make_validator()
    client = connect(redis_server.url)
    syncer = Syncer(validator.journal, validator.lists, client, validator_id="V1",
                    push_every=0.05, backoff=ExponentialBackoff(cap=0.4, base=0.05))
    stop, thread = start(syncer, NotedStop())
    try:
        scans = [validator.scan(issuer.rider(now=clock.now()).qr(clock.now()), clock.now())
                 for _ in range(5)]
        wait_for(lambda: validator.journal.backlog() == 0)
        client.save()  # the private server keeps its data across the restart below
        redis_server.stop()

        waits_before = len(stop.waits)
        for _ in range(10):
            now = clock.now()
            scan = validator.scan(issuer.rider(now=now).qr(now), now)
            assert scan.accepted  # validating goes on without Redis
            scans.append(scan)
        def backed_off() -> list[float]:  # the waits after a failed round, in order
            return [w for w in stop.waits[waits_before:] if w != syncer.push_every]

        wait_for(lambda: len(backed_off()) >= 5)
        assert validator.journal.backlog() == 10
        # Exponential backoff capped at 0.4 s: each failed try waits twice the one before,
        # up to the cap; never a busy loop.
        assert backed_off()[:5] == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.4])

        redis_server.start()
        # The round that empties the journal clears the error at its end.
        wait_for(lambda: validator.journal.backlog() == 0 and syncer.last_error is None)
    finally:
        stop.set()
        thread.join(10)
        client.close()

    check = redis.Redis.from_url(redis_server.url)
    try:
        assert stream_trips(check) == [scan.trip for scan in scans]
    finally:
        check.close()


def test_with_nothing_to_send_redis_going_away_is_noticed_before_the_next_pull(
        make_validator, redis_server, monkeypatch):
    """An empty journal sends nothing and the next pull is far off: the loop asks Redis's
    time when it has not heard from it for a while. (The waits' time-outs only stop a broken
    run from hanging: without the probe, offline would wait for the pull an hour away.)"""
    monkeypatch.setattr(sync, "PROBE_EVERY", 0.2)
    validator = make_validator()
    client = connect(redis_server.url)
    syncer = Syncer(validator.journal, validator.lists, client, validator_id="V1",
                    push_every=0.05, pull_every=3600, backoff=NoBackoff())
    stop, thread = start(syncer)
    try:
        wait_for(lambda: syncer.online(clock.now()))
        redis_server.stop()
        wait_for(lambda: not syncer.online(clock.now()))
        assert "ConnectionError" in syncer.last_error and validator.journal.backlog() == 0
        redis_server.start()
        wait_for(lambda: syncer.online(clock.now()))
    finally:
        stop.set()
        thread.join(10)
        client.close()


def test_scanning_does_not_wait_for_a_redis_that_does_not_answer(make_validator, issuer):
    validator = make_validator()
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host, port = silent.getsockname()
        client = redis.Redis(host=host, port=port, socket_timeout=1.0, socket_connect_timeout=1.0,
                             retry=Retry(NoBackoff(), 0))
        syncer = Syncer(validator.journal, validator.lists, client, validator_id="V1",
                        backoff=ExponentialBackoff(cap=0.2, base=0.1))
        stop, thread = start(syncer)
        try:
            for _ in range(10):
                now = clock.now()
                assert validator.scan(issuer.rider(now=now).qr(now), now).accepted
            # All ten were decided and journaled while the sync was still waiting for an answer.
            assert syncer.last_error is None and syncer.last_pull_at is None
            wait_for(lambda: syncer.last_error is not None)
            assert "Timeout" in syncer.last_error
        finally:
            stop.set()
            thread.join(10)
            client.close()
        assert not thread.is_alive()
        assert validator.journal.backlog() == 10


def test_stopping_makes_a_last_push(make_validator, issuer, redis_url, redis_client):
    validator = make_validator()
    publish_trust(redis_client, issuer)
    client = connect(redis_url)
    syncer = Syncer(validator.journal, validator.lists, client, validator_id="V1", push_every=60)
    stop, thread = start(syncer)
    try:
        wait_for(lambda: syncer.last_push_at is not None)
        now = clock.now()
        scans = [validator.scan(issuer.rider(now=now).qr(now), now) for _ in range(3)]
        assert validator.journal.backlog() == 3  # the loop sleeps for a minute...
    finally:
        stop.set()
        thread.join(10)  # ...but stopping wakes it, and it pushes before it ends
        client.close()
    assert not thread.is_alive()
    assert stream_trips(redis_client) == [scan.trip for scan in scans]
    assert syncer.last_pull_at is not None
