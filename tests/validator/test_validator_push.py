"""The push: every journaled trip lands in the trips stream exactly once, whatever happens
(through the validator's inbox, which the ingest moves into the stream: stream_trips moves
it first)."""

import sqlite3
import threading

import pytest
import redis

from backoffice import inbox
from shared.redis_keys import TRIPS_STREAM, TRUST_LIST, ready
from validator.sync import ACL_RULES, Syncer, connect, marks_key
from validator_testkit import NOW
from tests.testkit import stream_trips


def syncer_for(validator, client, **options) -> Syncer:
    return Syncer(validator.journal, validator.lists, client,
                  validator_id=validator.validator_id, **options)


def scan_many(validator, issuer, count: int, start: int = NOW) -> list:
    return [validator.scan(issuer.rider(now=start).qr(start + n), start + n).trip
            for n in range(count)]


def forget_acknowledgement(validator) -> None:
    """What a crash between Redis taking the batch and the journal noting it leaves behind."""
    db = sqlite3.connect(validator.data_dir / "journal.db")
    with db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'pushed_seq'")
    db.close()


def test_push_sends_unsent_trips_in_order_and_notes_them(make_validator, issuer, redis_client):
    validator = make_validator()
    trips = scan_many(validator, issuer, 5)
    syncer = syncer_for(validator, redis_client)

    pushed = syncer.push_once(NOW)

    assert (pushed.added, pushed.already, pushed.more) == (5, 0, False)
    assert stream_trips(redis_client) == trips
    assert validator.journal.backlog() == 0
    assert redis_client.hget(marks_key("V1"), syncer.key) == str(pushed.pushed_seq).encode()
    assert syncer.key == f"V1/{validator.journal.epoch}"
    assert syncer.push_once(NOW).added == 0


def test_a_push_repeated_after_a_lost_acknowledgement_adds_nothing(
        make_validator, issuer, redis_client):
    validator = make_validator()
    trips = scan_many(validator, issuer, 7)
    syncer = syncer_for(validator, redis_client, batch_size=3)
    syncer.push_all(NOW)

    forget_acknowledgement(validator)
    assert validator.journal.backlog() == 7
    trips += scan_many(validator, issuer, 2, start=NOW + 100)
    syncer.push_all(NOW)

    assert stream_trips(redis_client) == trips
    assert validator.journal.backlog() == 0


def test_many_batches_pipelined_in_rounds(make_validator, issuer, redis_client):
    validator = make_validator(passback=0)
    rider = issuer.rider(now=NOW)
    trips = [validator.scan(rider.qr(NOW), NOW + n / 100).trip for n in range(103)]  # replays
    syncer = syncer_for(validator, redis_client, batch_size=10, batches_per_round=3)

    first = syncer.push_once(NOW)
    assert (first.added, first.more) == (30, True)
    assert syncer.push_all(NOW) == 73

    assert stream_trips(redis_client) == trips


def test_a_batch_whose_predecessor_did_not_land_is_refused(make_validator, issuer, redis_client):
    """The guard against a pipelined batch failing while the next one succeeds."""
    validator = make_validator()
    scan_many(validator, issuer, 3)
    syncer = syncer_for(validator, redis_client)
    [(s1, p1), (s2, p2), (s3, p3)] = validator.journal.unsent(10)

    # As if batch [s1, s2] failed: the batch after it says it follows s2.
    added, already, hwm = redis_client.fcall("vexe_push", 3, syncer.inbox, marks_key("V1"),
                                             ready(), syncer.key, s2, s3, p3)
    assert (added, already, hwm) == (0, 0, 0)
    assert redis_client.exists(syncer.inbox) == 0

    syncer.push_all(NOW)
    assert [t.to_json() for t in stream_trips(redis_client)] == [p1, p2, p3]


def test_two_validators_push_to_one_stream_at_once(make_validator, issuer, redis_client,
                                                    redis_url):
    validators = [make_validator(validator_id=f"V{n}", vehicle=f"BUS{n}") for n in (1, 2)]
    errors: list[BaseException] = []

    def work(validator) -> None:
        client = redis.Redis.from_url(redis_url)
        try:
            syncer = syncer_for(validator, client, batch_size=20, batches_per_round=2)
            rider = issuer.rider(now=NOW)
            for n in range(150):
                validator.scan(rider.qr(NOW), NOW + n)  # a refusal is a trip as well
                if n % 25 == 0:
                    syncer.push_once(NOW)
            syncer.push_all(NOW)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(v,)) for v in validators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors

    in_stream = stream_trips(redis_client)
    assert len(in_stream) == 300
    for validator in validators:
        mine = [t for t in in_stream if t.validator == validator.validator_id]
        assert mine == validator.journal.trips()
        key = f"{validator.validator_id}/{validator.journal.epoch}"
        assert int(redis_client.hget(marks_key(validator.validator_id), key)) \
            == validator.journal.pushed_seq


def test_a_replaced_journal_is_a_new_sequence(make_validator, issuer, redis_client, tmp_path):
    """A validator whose journal was wiped starts again at seq 1: its trips are not skipped."""
    first = make_validator(validator_id="V5")
    scan_many(first, issuer, 3)
    syncer_for(first, redis_client).push_all(NOW)
    first.close()
    for path in first.data_dir.glob("journal.db*"):
        path.unlink()

    again = make_validator(validator_id="V5")
    trips = scan_many(again, issuer, 2, start=NOW + 100)
    syncer_for(again, redis_client).push_all(NOW)
    assert stream_trips(redis_client)[3:] == trips


def test_push_raises_when_redis_is_away_and_keeps_the_backlog(make_validator, issuer,
                                                               redis_server):
    validator = make_validator()
    scan_many(validator, issuer, 2)
    client = redis.Redis.from_url(redis_server.url, socket_connect_timeout=1)
    try:
        syncer = syncer_for(validator, client)
        redis_server.stop()
        with pytest.raises(redis.ConnectionError):
            syncer.push_once(NOW)
        assert validator.journal.backlog() == 2
    finally:
        client.close()


def test_the_validator_acl_allows_the_sync_and_little_else(make_validator, issuer, redis_server):
    admin = redis.Redis.from_url(redis_server.url)
    validator = make_validator()
    client = connect(f"redis://V1:secret@127.0.0.1:{redis_server.port}/0")
    try:
        admin.execute_command("ACL", "SETUSER", "V1", "on", ">secret", *ACL_RULES.split())
        admin.set(TRUST_LIST, issuer.trust.dumps())
        scan_many(validator, issuer, 3)
        syncer = syncer_for(validator, client)

        assert syncer.pull_once(NOW)["trust"] == "same"
        assert syncer.push_once(NOW).added == 3
        assert inbox.move(admin) == 3 and admin.xlen(TRIPS_STREAM) == 3
        for command in (("DEL", TRIPS_STREAM), ("SET", TRUST_LIST, "{}"), ("XTRIM", TRIPS_STREAM,
                        "MAXLEN", "0"), ("KEYS", "*"), ("FLUSHDB",), ("GET", "vexe:other")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
    finally:
        client.close()
        admin.close()
