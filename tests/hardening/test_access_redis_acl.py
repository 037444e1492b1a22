"""Each validator its own Redis user, made by ``vexe validator acl create`` (and brought to a
later version's rules by ``acl update``): it pushes trips and pulls the lists, and every
other command is refused, reading other validators' trips first. Its password is on every
bus, so these tests log in as that user and try what a thief of it would: run code of its
own, trim or block the shared trips stream, forge a heartbeat, fill Redis."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
import time

import pytest
import redis

from issuer.platform import db
from backoffice import heartbeats, ingest, ingest_metrics
from shared import clock, redis_functions
from shared.redis_keys import (DENYLIST, TRIPS_GROUP, TRIPS_HWM, TRIPS_STREAM, TRUST_LIST,
                               heartbeat, inbox, ready)
from shared.trip import Trip
from validator.device import Validator
from validator.heartbeat import Heartbeat
from validator.sync import Syncer, acl_rules, connect, marks_key
from hardening_testkit import VEXE, environment
from tests.testkit import ROUTE, Issuer, stream_trips, wait_for


def vexe(*args, redis_url: str) -> subprocess.CompletedProcess:
    return subprocess.run([VEXE, *args], env=environment(VEXE_REDIS_URL=redis_url),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def admin(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def create(redis_server, tmp_path, user: str, *extra: str) -> str:
    path = tmp_path / f"{user}.password"
    out = vexe("validator", "acl", "create", user, "--password-file", str(path), *extra,
               redis_url=redis_server.url)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["user"] == user and answer["password_file"] == str(path)
    assert "saved" in answer  # the private server has no ACL file: a warning says so
    assert "no ACL file" in out.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 40 and password not in out.stdout + out.stderr
    return password


# Everything a validator's user must not do: each is a command and the harm it would do.
REFUSED = [
    ("XRANGE", TRIPS_STREAM, "-", "+"),  # read other validators' trips (who rode where)
    ("XREAD", "STREAMS", TRIPS_STREAM, "0"),
    ("XREADGROUP", "GROUP", TRIPS_GROUP, "x", "STREAMS", TRIPS_STREAM, ">"),
    ("XLEN", TRIPS_STREAM),
    ("XDEL", TRIPS_STREAM, "1-1"),  # delete trips
    ("XTRIM", TRIPS_STREAM, "MAXLEN", "0"),
    ("XACK", TRIPS_STREAM, TRIPS_GROUP, "1-1"),
    ("XGROUP", "DESTROY", TRIPS_STREAM, TRIPS_GROUP),
    ("DEL", TRIPS_STREAM),
    ("DEL", TRIPS_HWM),
    ("UNLINK", TRIPS_STREAM),
    ("RENAME", TRIPS_STREAM, "vexe:gone"),
    ("SET", TRUST_LIST, '{"keys":[]}'),  # plant its own signing key
    ("SET", DENYLIST, "{}"),  # lift a revocation
    ("APPEND", TRUST_LIST, "x"),
    ("DEL", DENYLIST),
    ("GET", "vexe:other"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("FLUSHDB",),
    ("FLUSHALL",),
    ("CONFIG", "GET", "*"),
    ("CONFIG", "SET", "appendonly", "no"),
    ("ACL", "LIST"),
    ("ACL", "SETUSER", "mallory", "on", ">x", "+@all", "~*"),
    ("EVAL", "return 1", "0"),  # arbitrary scripts
    ("SCRIPT", "LOAD", "return 1"),
    ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "LOAD", "#!lua name=mine\nredis.register_function('f', function() end)"),
    ("FUNCTION", "FLUSH"),  # would leave every validator without its push
    ("SCRIPT", "FLUSH"),
    ("XADD", TRIPS_STREAM, "*", "trip", "{}"),  # the stream is the ingest's to write
    ("SPOP", ready()),  # take inboxes off the list the ingest moves
    ("SREM", ready(), "x"),
    ("RPUSH", inbox("V-0001"), "{}"),  # another validator's inbox
    ("LPOP", inbox("V-0042")),  # its own, but what it holds is the ingest's to move
    ("LTRIM", inbox("V-0042"), "1", "0"),
    ("CLIENT", "LIST"),  # other validators' addresses
    ("CLIENT", "KILL", "TYPE", "normal"),
    ("MONITOR",),
    ("PUBLISH", "vexe", "x"),
    ("SUBSCRIBE", "vexe"),
    ("SHUTDOWN",),
    ("SAVE",),
    ("BGREWRITEAOF",),
    ("MIGRATE", "127.0.0.1", "1", TRIPS_STREAM, "0", "1"),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("SELECT", "1"),
    ("SWAPDB", "0", "1"),
    ("OBJECT", "ENCODING", TRIPS_STREAM),
    ("DUMP", TRIPS_STREAM),
    ("RESTORE", "vexe:copy", "0", "x"),
    ("COPY", TRIPS_STREAM, "vexe:copy"),
    ("SORT", TRIPS_STREAM),
    ("HGETALL", TRIPS_HWM),
    ("HDEL", TRIPS_HWM, "x"),
]


def test_a_validator_user_pushes_pulls_and_nothing_else(redis_server, admin, tmp_path):
    issuer = Issuer()
    admin.set(TRUST_LIST, issuer.trust.dumps())
    admin.set(DENYLIST, '{"issued_at": 1, "entries": []}')
    admin.xgroup_create(TRIPS_STREAM, TRIPS_GROUP, id="0", mkstream=True)
    password = create(redis_server, tmp_path, "V-0042")

    device = Validator(validator_id="V-0042", vehicle="29B-042.00", route=ROUTE,
                       data_dir=tmp_path / "validator")
    client = connect(redis_server.url, username="V-0042", password=password)
    try:
        syncer = Syncer(device.journal, device.lists, client, validator_id="V-0042",
                        clock=device.clock)
        assert syncer.pull_once(clock.now()) == {"trust": "changed", "denylist": "changed"}
        assert device.clock.measured is not None  # TIME is allowed: it reads no key
        for _ in range(3):
            now = clock.now()
            assert device.scan(issuer.rider(now=now).qr(now), now).accepted
        assert syncer.push_all(clock.now()) == 3
        assert len(stream_trips(admin)) == 3
        assert syncer.push_all(clock.now()) == 0

        refused = []
        for command in REFUSED:
            try:
                client.execute_command(*command)
            except redis.exceptions.NoPermissionError:
                continue
            except redis.ResponseError as exc:
                if "NOPERM" in str(exc) or "no permissions" in str(exc):
                    continue
                refused.append((command, str(exc)))
            else:
                refused.append((command, "allowed"))
        assert refused == []
        assert admin.xlen(TRIPS_STREAM) == 3  # and nothing above changed anything
        assert admin.get(TRUST_LIST) == issuer.trust.dumps().encode()
        assert admin.xinfo_groups(TRIPS_STREAM)[0]["name"] == TRIPS_GROUP.encode()
    finally:
        client.close()
        device.close()


def test_one_validator_user_cannot_sign_in_as_another(redis_server, admin, tmp_path):
    password = create(redis_server, tmp_path, "V1")
    create(redis_server, tmp_path, "V2")
    other = redis.Redis.from_url(redis_server.url, username="V2", password=password)
    with pytest.raises(redis.AuthenticationError):
        other.time()
    other.close()


def test_replace_gives_a_new_password_and_the_old_one_stops(redis_server, admin, tmp_path):
    old = create(redis_server, tmp_path, "V9")
    again = vexe("validator", "acl", "create", "V9", "--password-file",
                 str(tmp_path / "again"), redis_url=redis_server.url)
    assert again.returncode == 2 and again.stderr.startswith("vexe: ")
    assert "exists already" in again.stderr and len(again.stderr.splitlines()) == 1
    assert not (tmp_path / "again").exists()

    (tmp_path / "new").unlink(missing_ok=True)
    out = vexe("validator", "acl", "create", "V9", "--password-file", str(tmp_path / "new"),
               "--replace", redis_url=redis_server.url)
    assert out.returncode == 0, out.stderr
    new = (tmp_path / "new").read_text().strip()
    assert new != old
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.url, username="V9", password=old).time()
    assert redis.Redis.from_url(redis_server.url, username="V9", password=new).time()
    # Redis keeps only a hash of the password.
    assert new not in str(admin.execute_command("ACL", "LIST"))


def test_an_existing_password_file_is_never_overwritten(redis_server, tmp_path):
    path = tmp_path / "taken"
    path.write_text("someone else's\n")
    out = vexe("validator", "acl", "create", "V3", "--password-file", str(path),
               redis_url=redis_server.url)
    assert out.returncode == 2 and "never overwritten" in out.stderr
    assert path.read_text() == "someone else's\n"


def test_delete_ends_the_user(redis_server, admin, tmp_path):
    password = create(redis_server, tmp_path, "V5")
    out = vexe("validator", "acl", "delete", "V5", redis_url=redis_server.url)
    assert out.returncode == 0 and json.loads(out.stdout) == {"user": "V5", "deleted": True}
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.url, username="V5", password=password).time()


def test_a_bad_id_or_an_unreachable_redis_is_one_line(tmp_path):
    bad = vexe("validator", "acl", "create", "a/b", "--password-file", str(tmp_path / "p"),
               redis_url="redis://127.0.0.1:1/0")
    assert bad.returncode == 2 and "must be letters" in bad.stderr
    away = vexe("validator", "acl", "create", "V1", "--password-file", str(tmp_path / "p"),
                redis_url="redis://127.0.0.1:1/0")
    assert away.returncode == 2 and "cannot reach Redis" in away.stderr
    assert len(away.stderr.splitlines()) == 1 and not (tmp_path / "p").exists()


def test_a_validator_cannot_move_another_validators_marks(redis_server, admin, tmp_path):
    """Raising V2's high-water mark would make Redis drop V2's next trips: V1's user may
    read and write its own marks only."""
    password = create(redis_server, tmp_path, "V1")
    create(redis_server, tmp_path, "V2")
    client = connect(redis_server.url, username="V1", password=password)
    try:
        assert client.hset(marks_key("V1"), "V1/x", 1) == 1
        for command in (("HSET", marks_key("V2"), "V2/x", "999999"),
                        ("HSET", TRIPS_HWM, "V2/x", "999999"),
                        ("HGET", marks_key("V2"), "V2/x"), ("HGET", TRIPS_HWM, "V2/x")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
        # Nor through the push function, which runs with the same rights.
        with pytest.raises(redis.ResponseError, match="(?i)noperm|no permissions"):
            client.fcall("vexe_push", 3, inbox("V2"), marks_key("V2"), ready(), "V2/x", 0,
                         999999, "{}")
    finally:
        client.close()
    assert admin.exists(marks_key("V2")) == 0 and admin.exists(inbox("V2")) == 0



# The rules ``acl create`` gave before validators lost their scripts and the stream.
OLD_RULES = ("resetkeys ~vexe:{trips}:stream ~vexe:{trips}:hwm:V7 %R~vexe:trust %R~vexe:deny "
             "resetchannels -@all +evalsha +script|load +script|exists +xadd +hget +hset +get "
             "+time +wait (~vexe:{trips}:beat:V7 +evalsha +set)")


def test_update_gives_an_old_user_todays_rules_and_keeps_its_password(redis_server, admin,
                                                                       tmp_path):
    """A user made by an earlier version (scripts, XADD on the stream, password "secret"):
    after ``acl update`` it pushes and beats with the same password, and what the old rules
    allowed is gone; an id with no user is an error that makes none."""
    admin.execute_command("ACL", "SETUSER", "V7", "reset", "on", ">secret", "~vexe:old:*",
                          *OLD_RULES.split())
    admin.function_delete(redis_functions.LIBRARY)  # a Redis that never had them
    device = Validator(validator_id="V7", vehicle="29B-007.00", route=ROUTE,
                       data_dir=tmp_path / "validator")
    client = connect(redis_server.url, username="V7", password="secret")
    try:
        syncer = Syncer(device.journal, device.lists, client, validator_id="V7",
                        heartbeat=Heartbeat(device))
        assert client.script_load("return 1")  # what the update takes away

        out = vexe("validator", "acl", "update", "V7", redis_url=redis_server.url)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout.splitlines()[0])["rules"] == acl_rules(None, "V7")
        syncer.beat_once()  # the same connection, the same password
        assert heartbeats.read(redis_server.url)["V7"]["validator"] == "V7"
        issuer = Issuer()
        device.lists.update_trust(issuer.trust.dumps())
        now = clock.now()
        assert device.scan(issuer.rider(now=now).qr(now), now).accepted
        assert syncer.push_all(clock.now()) == 1 and len(stream_trips(admin)) == 1
        for command in (("SET", heartbeat("V8"), "{}"), ("SET", TRIPS_STREAM, "x"),
                        ("SCRIPT", "LOAD", "return 1"), ("EVALSHA", "x" * 40, "0"),
                        ("XADD", TRIPS_STREAM, "*", "trip", "{}"),
                        ("GET", "vexe:old:x")):  # the old rules' extra key is gone too
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
    finally:
        client.close()
        device.close()
    assert redis.Redis.from_url(redis_server.url, username="V7", password="secret").time()

    missing = vexe("validator", "acl", "update", "V7", "V-NONE", redis_url=redis_server.url)
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    assert "V-NONE" in missing.stderr and "no Redis user" in missing.stderr
    assert len(missing.stdout.splitlines()) == 1  # V7, before it
    assert admin.execute_command("ACL", "GETUSER", "V-NONE") is None
    bad = vexe("validator", "acl", "update", "a/b", redis_url=redis_server.url)
    assert bad.returncode == 2 and "must be letters" in bad.stderr


# -- what a thief of a validator's password tries ------------------------------------------

def refused(client: redis.Redis, *command) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*command)


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'ridership.db'}"
    db.migrate(url)
    yield url
    db.dispose(url)


def ingest_all(redis_url: str, database_url: str) -> None:
    client = ingest.connect(redis_url)
    try:
        worker = ingest.Worker(database_url, client, "w1")
        worker.ensure_group()
        worker.drain(clock.now())
    finally:
        client.close()


def rows(database_url: str, query: str) -> list:
    engine = db.engine(database_url)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(query)]


def pushing_validator(redis_server, tmp_path, validator_id: str):
    """A validator with trips in its journal, syncing as its own Redis user."""
    issuer = Issuer()
    device = Validator(validator_id=validator_id, vehicle=f"29B-{validator_id}", route=ROUTE,
                       data_dir=tmp_path / validator_id)
    device.lists.update_trust(issuer.trust.dumps())
    password = create(redis_server, tmp_path, validator_id)
    client = connect(redis_server.url, username=validator_id, password=password)
    syncer = Syncer(device.journal, device.lists, client, validator_id=validator_id)

    def scan() -> Trip:
        now = clock.now()
        return device.scan(issuer.rider(now=now).qr(now), now).trip

    return device, client, syncer, scan


def test_a_validator_user_runs_no_code_of_its_own(redis_server, admin, tmp_path):
    """A script that never ends makes Redis answer BUSY to everyone, and one that wrote
    first cannot be killed: the validator's user may load none, run none, and not even
    run one the operator loaded."""
    password = create(redis_server, tmp_path, "V1")
    client = redis.Redis.from_url(redis_server.url, username="V1", password=password)
    forever = "while true do end"
    try:
        # Each refused before the next is tried: none of them may start.
        refused(client, "SCRIPT", "LOAD", forever)
        refused(client, "EVAL", forever, "0")
        refused(client, "EVAL_RO", forever, "0")
        refused(client, "FUNCTION", "LOAD",
                f"#!lua name=mine\nredis.register_function('f', function() {forever} end)")
        sha = admin.script_load(forever)  # loaded by someone else, never run
        refused(client, "EVALSHA", sha, "0")
        refused(client, "EVALSHA_RO", sha, "0")
        assert client.time() and admin.ping()  # Redis still answers everyone
    finally:
        client.close()
    assert [lib[1] for lib in admin.function_list()] == [b"vexe"]  # [library_name, ...]


def test_a_validator_can_neither_trim_nor_block_the_trips_stream(redis_server, admin,
                                                                 tmp_path, database):
    """Trimming the shared stream (XADD MAXLEN) would delete other validators' trips not yet
    ingested; adding its last possible id would leave it taking no more entries, every
    validator then offline. The thief's user cannot write the stream at all; what it may
    write, its own inbox, reaches the stream with ids Redis chooses, and a trip it says
    another validator made is turned away."""
    honest, honest_client, honest_sync, honest_scan = pushing_validator(
        redis_server, tmp_path, "V2")
    thief, client, thief_sync, thief_scan = pushing_validator(redis_server, tmp_path, "V1")
    try:
        earlier = [honest_scan() for _ in range(3)]
        assert honest_sync.push_all(clock.now()) == 3
        assert len(stream_trips(admin)) == 3  # moved, not yet ingested

        trip = earlier[0].to_json()
        refused(client, "XADD", TRIPS_STREAM, "MAXLEN", "=", "1", "*", "trip", trip)
        refused(client, "XADD", TRIPS_STREAM, "18446744073709551615-18446744073709551615",
                "trip", trip)
        refused(client, "XTRIM", TRIPS_STREAM, "MAXLEN", "0")
        refused(client, "XADD", inbox("V1"), "*", "trip", trip)  # its inbox is a list
        # Its own inbox, by hand: a trip that says V2 made it.
        forged = Trip(**{**json.loads(trip), "id": "f00000000000cafe0001"}).to_json()
        assert client.rpush(inbox("V1"), forged) == 1
        assert client.sadd(ready(), inbox("V1")) == 1

        later = [honest_scan() for _ in range(2)]
        assert honest_sync.push_all(clock.now()) == 2  # the stream still takes entries
        mine = thief_scan()
        assert thief_sync.push_all(clock.now()) == 1
        ingest_all(redis_server.url, database)
    finally:
        for c in (client, honest_client):
            c.close()
        for d in (thief, honest):
            d.close()
    assert sorted(rows(database, "SELECT id, validator FROM trips")) == sorted(
        [(t.id, "V2") for t in earlier + later] + [(mine.id, "V1")])
    [(entry, error)] = rows(database, "SELECT entry_id, error FROM ingest_rejects")
    assert error == "a trip of validator 'V2' from the inbox of 'V1'"


def test_a_forged_heartbeat_is_not_shown_alive(redis_server, admin, tmp_path):
    """A beat written by hand, dated far ahead and with no expiry, would show the validator
    alive for as long as the date says: the beat's time is its entry's id, chosen by Redis,
    and a beat dated ahead of Redis's clock is shown as unreadable."""
    password = create(redis_server, tmp_path, "V1")
    client = redis.Redis.from_url(redis_server.url, username="V1", password=password)
    ahead = int(time.time()) + 10 * 365 * 86400
    claim = json.dumps({"at": ahead, "validator": "V1", "backlog": 0})
    try:
        refused(client, "SET", heartbeat("V1"), claim)
        refused(client, "PERSIST", heartbeat("V1"))
        # A time in the beat's JSON is not its time.
        client.xadd(heartbeat("V1"), {"beat": claim})
        seconds, _ = admin.time()
        assert heartbeats.read(redis_server.url)["V1"]["at"] <= seconds + 1
        # Nor is an id of its choosing, ahead of Redis's clock.
        client.xadd(heartbeat("V1"), {"beat": claim}, id=f"{ahead * 1000}-0")
    finally:
        client.close()
    beat = heartbeats.read(redis_server.url)["V1"]
    assert beat == {"unreadable": "dated ahead of Redis's clock: not written as beats are"}


def test_a_validator_cannot_fill_redis_or_the_ingest(redis_server, admin, tmp_path, database):
    """One validator's user put a 50 MB entry in the stream, and 10^5 of them 1.75 GB in
    Redis and more in the ingest. The push refuses a trip over MAX_TRIP bytes and a batch over
    MAX_BATCH trips; an entry pushed into its inbox by hand goes no further than the inbox:
    the move lets into the stream KEEP_RAW bytes of it, kept among the rejects."""
    device, client, syncer, scan = pushing_validator(redis_server, tmp_path, "V1")
    huge = "x" * (50 * 1024 * 1024)
    marks = marks_key("V1")
    try:
        refused(client, "XADD", TRIPS_STREAM, "*", "trip", huge)
        with pytest.raises(redis.ResponseError, match="a trip is at most 2048 bytes"):
            client.fcall("vexe_push", 3, inbox("V1"), marks, ready(), "V1/e", 0, 1, huge)
        trip = scan()
        small = trip.to_json()
        batch = [arg for n in range(1, 502) for arg in (n, small)]
        with pytest.raises(redis.ResponseError, match="a batch holds at most 500 trips"):
            client.fcall("vexe_push", 3, inbox("V1"), marks, ready(), "V1/e", 0, *batch)
        assert admin.exists(inbox("V1"), marks) == 0  # nothing changed

        assert client.rpush(inbox("V1"), huge, small) == 2  # by hand
        assert client.sadd(ready(), inbox("V1")) == 1
        assert syncer.push_all(clock.now()) == 1  # the honest push goes on
        ingest_all(redis_server.url, database)
    finally:
        client.close()
        device.close()
    assert admin.exists(inbox("V1")) == 0
    sizes = [len(value) for _, fields in admin.xrange(TRIPS_STREAM) for value in fields.values()]
    assert max(sizes) <= redis_functions.MAX_TRIP
    [(error, raw)] = rows(database, "SELECT error, raw FROM ingest_rejects")
    assert error == "an entry of 52428800 bytes, over the 2048 a trip may have"
    assert len(raw) <= ingest.REJECT_RAW and "x" * redis_functions.KEEP_RAW in raw
    # The trip it pushed by hand and by the push: counted once.
    assert rows(database, "SELECT id FROM trips") == [(trip.id,)]


def test_a_validator_reads_the_routes_stops_and_cannot_write_them(redis_server, admin,
                                                                   tmp_path):
    """The stops are public, but what a bus locates itself by: a stolen password must not
    move every bus of a route to another stop."""
    from shared.redis_keys import route_stops
    from shared.stops import Direction, RouteStops
    from shared.stops import Stop as RouteStop

    stops = RouteStops(ROUTE, [Direction(0, [
        RouteStop("S1_0", "S1_0", "Cầu Giấy", 21.03, 105.80),
        RouteStop("S2_0", "S2_0", "Kim Mã", 21.031, 105.81)])])
    admin.set(route_stops(ROUTE), stops.dumps())
    admin.set(TRUST_LIST, Issuer().trust.dumps())
    password = create(redis_server, tmp_path, "V-0043")
    device = Validator(validator_id="V-0043", vehicle="29B-043.00", route=ROUTE,
                       data_dir=tmp_path / "validator")
    client = connect(redis_server.url, username="V-0043", password=password)
    try:
        syncer = Syncer(device.journal, device.lists, client, validator_id="V-0043",
                        route=lambda: device.route)
        assert syncer.pull_once(clock.now())["stops"] == "changed"
        assert device.lists.stops(ROUTE) == stops
        assert (device.data_dir / "stops" / f"{ROUTE}.json").read_text() == stops.dumps()
        for command in [("SET", route_stops(ROUTE), "{}"), ("DEL", route_stops(ROUTE)),
                        ("SET", route_stops("99"), "{}"), ("APPEND", route_stops(ROUTE), "x"),
                        ("RENAME", route_stops(ROUTE), "vexe:stops:X"),
                        ("KEYS", "vexe:stops:*"), ("SCAN", "0")]:
            refused(client, *command)
        assert admin.get(route_stops(ROUTE)) == stops.dumps().encode()
    finally:
        client.close()
        device.close()


def test_a_user_of_the_version_before_stops_still_gets_its_lists_until_acl_update(
        redis_server, admin, tmp_path):
    """The rules before this version had no stops: such a user is refused them, keeps
    pulling the trust list and denylist, and reads the stops once ``acl update`` ran."""
    from shared.redis_keys import route_stops
    from shared.stops import Direction, RouteStops
    from shared.stops import Stop as RouteStop

    before = acl_rules(None, "V9").replace(" %R~vexe:stops:*", "")
    admin.execute_command("ACL", "SETUSER", "V9", "reset", "on", ">secret", *before.split())
    stops = RouteStops(ROUTE, [Direction(0, [RouteStop("S1_0", "S1_0", "Kim Mã", 21.03, 105.8)])])
    admin.set(route_stops(ROUTE), stops.dumps())
    admin.set(TRUST_LIST, Issuer().trust.dumps())
    device = Validator(validator_id="V9", vehicle="29B-009.00", route=ROUTE,
                       data_dir=tmp_path / "validator")
    client = connect(redis_server.url, username="V9", password="secret")
    try:
        syncer = Syncer(device.journal, device.lists, client, validator_id="V9",
                        route=lambda: device.route)
        pulled = syncer.pull_once(clock.now())
        assert (pulled["trust"], pulled["stops"]) == ("changed", "refused")
        assert device.lists.stops(ROUTE) is None
        out = vexe("validator", "acl", "update", "V9", redis_url=redis_server.url)
        assert out.returncode == 0, out.stderr
        assert syncer.pull_once(clock.now())["stops"] == "changed"
        assert device.lists.stops(ROUTE) == stops
    finally:
        client.close()
        device.close()


# -- a flood of its own inbox: the ingest's quota -------------------------------------------
# The user must hold RPUSH on its inbox (the push runs with its rights), so a thief may fill
# that inbox by hand until Redis refuses every validator's trips. The ingest switches off a
# validator whose inbox is over the quota (backoffice.inbox.police).

QUOTA = 1000  # the least VEXE_INGEST_INBOX_QUOTA takes


def ingest_env(redis_url: str, database_url: str, tmp_path) -> dict[str, str]:
    return environment(VEXE_REDIS_URL=redis_url, VEXE_DATABASE_URL=database_url,
                       VEXE_DATA_DIR=str(tmp_path / "data"), VEXE_LOG_FORMAT="json",
                       VEXE_INGEST_INBOX_QUOTA=str(QUOTA))


def ingest_once(redis_url: str, database_url: str, tmp_path) -> subprocess.CompletedProcess:
    out = subprocess.run([VEXE, "ingest", "run", "--once"], capture_output=True, text=True,
                         env=ingest_env(redis_url, database_url, tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def ingest_status(redis_url: str, database_url: str, tmp_path) -> dict:
    out = subprocess.run([VEXE, "ingest", "status"], capture_output=True, text=True,
                         env=ingest_env(redis_url, database_url, tmp_path), timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def connected_users(admin) -> list[str]:
    return sorted(c["user"] for c in admin.client_list() if c["user"] != "default")


def user_is_on(admin, user: str) -> bool:
    return "on" in admin.acl_getuser(user)["flags"]


def switched_off_count() -> float:
    return ingest_metrics.REGISTRY.get_sample_value("vexe_ingest_validators_switched_off_total")


def flood(client: redis.Redis, validator_id: str, n: int, entry: str = "junk") -> None:
    """What a thief does: RPUSH by hand, past anything vexe_push lets in, and no SADD."""
    for start in range(0, n, 500):
        client.rpush(inbox(validator_id), *[entry] * min(500, n - start))


def test_a_validator_flooding_its_inbox_is_switched_off_and_the_flood_cut(
        redis_server, admin, tmp_path, database):
    """Over the quota, after one ingest round: the thief's user is off (a new AUTH fails,
    its open connection is closed), its inbox cut to the quota, oldest first, so the trips
    the bus pushed before the flood are written; logged at ERROR and shown by ``vexe ingest
    status``. A validator at the quota, and an honest one, are left as they were."""
    honest, honest_client, honest_sync, honest_scan = pushing_validator(
        redis_server, tmp_path, "V2")
    thief, client, thief_sync, thief_scan = pushing_validator(redis_server, tmp_path, "V1")
    third = create(redis_server, tmp_path, "V3")
    at_quota = connect(redis_server.url, username="V3", password=third)
    try:
        mine = [thief_scan() for _ in range(3)]
        assert thief_sync.push_all(clock.now()) == 3  # the bus's own trips, then the flood
        flood(client, "V1", 3 * QUOTA)
        flood(at_quota, "V3", QUOTA)  # at the quota, not over it
        honest_scan()
        assert honest_sync.push_all(clock.now()) == 1
        assert connected_users(admin) == ["V1", "V2", "V3"]

        out = ingest_once(redis_server.url, database, tmp_path)

        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(redis_server.url, username="V1",
                                 password=(tmp_path / "V1.password").read_text().strip()).time()
        assert not user_is_on(admin, "V1")
        assert connected_users(admin) == ["V2", "V3"]  # its open connection closed
        with pytest.raises(redis.AuthenticationError):  # and it cannot come back
            client.rpush(inbox("V1"), "more")
        assert user_is_on(admin, "V2") and user_is_on(admin, "V3")
        assert admin.llen(inbox("V3")) == QUOTA  # at the quota: untouched, not moved

        # The quota's worth kept, oldest first, and moved: the bus's trips are written.
        assert admin.exists(inbox("V1")) == 0
        assert rows(database, "SELECT COUNT(*) FROM ingest_rejects") == [(QUOTA - 3,)]
        assert sorted(rows(database, "SELECT id FROM trips WHERE validator = 'V1'")) == sorted(
            (t.id,) for t in mine)
        errors = [json.loads(line) for line in out.stderr.splitlines()
                  if '"level": "ERROR"' in line]
        assert len(errors) == 1 and "validator V1 wrote 3003 entries" in errors[0]["message"]
        [record] = ingest_status(redis_server.url, database, tmp_path)["switched_off"]
        assert record["validator"] == "V1" and record["entries"] == 3 * QUOTA + 3
        assert record["kept"] == QUOTA and record["user"] is True

        later = honest_scan()  # every other validator goes on
        assert honest_sync.push_all(clock.now()) == 1
        ingest_once(redis_server.url, database, tmp_path)
    finally:
        for c in (client, honest_client, at_quota):
            c.close()
        for d in (thief, honest):
            d.close()
    assert (later.id, "V2") in rows(database, "SELECT id, validator FROM trips")


def test_a_few_huge_entries_are_over_the_quota_too(redis_server, admin, tmp_path, database):
    """A single RPUSH'd value may be 512 MB (proto-max-bulk-len): three of 5 MB are far
    under the quota's count and over its bytes. The cut keeps the bus's trip before them."""
    thief, client, thief_sync, thief_scan = pushing_validator(redis_server, tmp_path, "V1")
    try:
        mine = thief_scan()
        assert thief_sync.push_all(clock.now()) == 1
        flood(client, "V1", 3, "x" * (5 * 1024 * 1024))
        assert admin.memory_usage(inbox("V1"), samples=0) > 15 * 1024 * 1024
        ingest_once(redis_server.url, database, tmp_path)
    finally:
        client.close()
        thief.close()
    assert not user_is_on(admin, "V1")
    assert admin.exists(inbox("V1")) == 0  # the 15 MB are Redis's again
    assert rows(database, "SELECT id FROM trips") == [(mine.id,)]
    assert rows(database, "SELECT COUNT(*) FROM ingest_rejects") == [(0,)]


def test_a_flood_of_its_marks_or_its_beat_is_cut_too(redis_server, admin, tmp_path,
                                                     database):
    """Its marks (HSET) and its beat stream (XADD) are its own to write by hand too: a
    thousand marks, or a beat of 2 MB, switch the validator off and the key goes (marks are
    made again by the next push; a trip sent twice counts once). An honest validator's
    marks and beat stay."""
    device, client, _, _ = pushing_validator(redis_server, tmp_path, "V1")
    beater = redis.Redis.from_url(redis_server.url, username="V2",
                                  password=create(redis_server, tmp_path, "V2"))
    honest, honest_client, honest_sync, honest_scan = pushing_validator(
        redis_server, tmp_path, "V3")
    honest_sync.heartbeat = Heartbeat(honest)
    try:
        client.hset(marks_key("V1"), mapping={f"V1/{n}": n for n in range(1001)})
        beater.xadd(heartbeat("V2"), {"beat": "x" * (2 * 1024 * 1024)})
        honest_scan()
        assert honest_sync.push_all(clock.now()) == 1
        honest_sync.beat_once()
        ingest_once(redis_server.url, database, tmp_path)
    finally:
        for c in (client, beater, honest_client):
            c.close()
        device.close()
        honest.close()
    assert not user_is_on(admin, "V1") and not user_is_on(admin, "V2")
    assert admin.exists(marks_key("V1"), heartbeat("V2")) == 0
    assert user_is_on(admin, "V3") and admin.exists(marks_key("V3"), heartbeat("V3")) == 2
    off = ingest_status(redis_server.url, database, tmp_path)["switched_off"]
    assert [(r["validator"], r["key"], r["entries"]) for r in off] == [
        ("V1", marks_key("V1"), 1001), ("V2", heartbeat("V2"), 1)]
    assert off[1]["bytes"] > 2 * 1024 * 1024 and off[0]["bytes"] is None


def test_the_operator_switches_it_on_again(redis_server, admin, tmp_path, database):
    """``acl update`` leaves a switched-off user off (its password may be the thief's);
    ``acl create --replace`` gives a new password and switches it on, and ``acl update
    --on`` switches it on with its password, after a false alarm. Either takes it off the
    status's list."""
    thief, client, thief_sync, thief_scan = pushing_validator(redis_server, tmp_path, "V1")
    create(redis_server, tmp_path, "V4")
    four = redis.Redis.from_url(redis_server.url, username="V4",
                                password=(tmp_path / "V4.password").read_text().strip())
    old = (tmp_path / "V1.password").read_text().strip()
    try:
        flood(client, "V1", QUOTA + 1)
        flood(four, "V4", QUOTA + 1)
        ingest_once(redis_server.url, database, tmp_path)
    finally:
        client.close()
        four.close()
    assert not user_is_on(admin, "V1") and not user_is_on(admin, "V4")
    assert len(ingest_status(redis_server.url, database, tmp_path)["switched_off"]) == 2

    assert vexe("validator", "acl", "update", "V1", "V4",
                redis_url=redis_server.url).returncode == 0
    assert not user_is_on(admin, "V1") and not user_is_on(admin, "V4")

    out = vexe("validator", "acl", "create", "V1", "--password-file", str(tmp_path / "new"),
               "--replace", redis_url=redis_server.url)
    assert out.returncode == 0, out.stderr
    new = (tmp_path / "new").read_text().strip()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.url, username="V1", password=old).time()
    client = connect(redis_server.url, username="V1", password=new)
    try:
        thief_sync.client = client
        thief_scan()
        assert thief_sync.push_all(clock.now()) == 1  # it pushes again
    finally:
        client.close()
        thief.close()

    out = vexe("validator", "acl", "update", "--on", "V4", redis_url=redis_server.url)
    assert out.returncode == 0, out.stderr
    assert redis.Redis.from_url(redis_server.url, username="V4",
                                password=(tmp_path / "V4.password").read_text().strip()).time()
    assert ingest_status(redis_server.url, database, tmp_path)["switched_off"] == []


def test_a_running_ingest_switches_off_a_flood_while_the_fleet_goes_on(
        redis_server, admin, tmp_path, database):
    """The long-running worker looks at every inbox every few seconds, just after it moved
    them: a flood that never says it is waiting (no SADD) is found by its name."""
    honest, honest_client, honest_sync, honest_scan = pushing_validator(
        redis_server, tmp_path, "V2")
    thief, client, _, _ = pushing_validator(redis_server, tmp_path, "V1")
    stop = threading.Event()
    counted = switched_off_count()
    worker = ingest.Worker(database, ingest.connect(redis_server.url), "w1", inbox_quota=QUOTA)
    running = threading.Thread(target=worker.run, args=(stop,))
    running.start()
    try:
        flood(client, "V1", 2 * QUOTA)
        wait_for(lambda: not user_is_on(admin, "V1"), what="V1 switched off")
        trip = honest_scan()
        assert honest_sync.push_all(clock.now()) == 1
        wait_for(lambda: rows(database, "SELECT id FROM trips") == [(trip.id,)],
                 what="V2's trip written")
        wait_for(lambda: admin.exists(inbox("V1")) == 0, what="V1's inbox cut and moved")
    finally:
        stop.set()
        running.join(30)
        worker.client.close()
        for c in (client, honest_client):
            c.close()
        for d in (thief, honest):
            d.close()
    assert rows(database, "SELECT COUNT(*) FROM ingest_rejects") == [(QUOTA,)]
    assert switched_off_count() == counted + 1  # the metric
