"""The sync between a validator and Redis: push journaled trips, pull the trust list and denylist.

It runs in its own thread with its own Redis connection; scanning never waits for it. Redis
may be away for hours: the loop backs off exponentially and the journal keeps everything.

The push is exactly-once without remembering trip ids. Redis keeps, per validator journal
(``"<validator id>/<journal epoch>"``), the highest journal ``seq`` it holds, in the
validator's own hash ``TRIPS_HWM:<validator id>``. One Redis function, ``vexe_push``
(shared.redis_functions), adds to the validator's own inbox only the trips above that mark
and raises it, atomically. If the validator dies after Redis took a batch but before it
noted that in its journal, it sends the batch again and Redis skips it. The state is one
number per validator journal, not one per trip. The ingest moves the inbox into the shared
trips stream (backoffice.inbox); the validator never writes the stream.

Each validator's marks and inbox are keys of its own so that its Redis user may write its
own and no one else's: a validator that could raise another's mark could make Redis drop
that validator's next trips, and one that could write the stream could trim it. (Earlier
versions kept all marks in the one hash ``TRIPS_HWM``, no longer read: a validator upgraded
right after a crash in the window above sends its last batch again, and the ingest counts
each trip id once.)

After its rounds the loop also writes the validator's heartbeat (validator.heartbeat), at
most every ``Heartbeat.every`` seconds, whether or not there was anything to push.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis
from redis.backoff import AbstractBackoff, ExponentialBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from shared import clock
from shared import redis_client
from shared.redis_keys import (DENYLIST, STOPS, TRIPS_HWM, TRUST_LIST, inbox, ready,
                               route_stops, trips_hwm)
from shared.redis_keys import heartbeat as heartbeat_key
from validator.heartbeat import Heartbeat
from validator.journal import Journal
from validator.lists import Lists
from validator.timekeeping import Clock

log = logging.getLogger(__name__)



def marks_key(validator_id: str, shard: str | None = None) -> str:
    """The hash of one validator's high-water marks, in the slot of its shard's stream."""
    return f"{TRIPS_HWM if shard is None else trips_hwm(shard)}:{validator_id}"


def acl_rules(shard: str | None = None, validator_id: str | None = None) -> str:
    """What a validator's own Redis ACL user needs, and nothing more (any validator's keys
    when no id is given).

    It runs no code of its own: no EVAL, no SCRIPT, only FCALL of the functions the operator
    loaded (shared.redis_functions). Redis checks each command a function runs against the
    caller's rights, so each command is granted on the one key it is for, in a selector of
    its own: RPUSH on its inbox, HGET and HSET on its marks, SADD on its shard's ready set,
    XADD and EXPIRE on its heartbeat. No key of another validator, and not the trips stream:
    nothing it may do by hand reaches another validator's trips. Besides: read the trust list,
    the denylist and the routes' stops (any route's: a bus changes route), ask the server's time (validator.timekeeping) and wait for a replica
    (WAIT), neither of which reads a key; on a cluster, also read the cluster's layout and the
    command table, which the cluster client needs to route.

        ACL SETUSER <validator id> reset on #<sha256 of password> <acl_rules(shard, id)>
    """
    who = "*" if validator_id is None else validator_id
    own_inbox, marks = inbox(who, shard), marks_key(who, shard)
    waiting, beat = ready(shard), heartbeat_key(who, shard)
    rules = (f"resetkeys %R~{TRUST_LIST} %R~{DENYLIST} %R~{STOPS} resetchannels -@all "
             "+get +time +wait")
    if shard is not None:
        rules += " +cluster|slots +cluster|shards +cluster|nodes +command +readonly"
    # Redis takes a selector split over several arguments, as rules.split() leaves it.
    return (rules + f" (~{own_inbox} ~{marks} ~{waiting} ~{beat} +fcall)"
            f" (~{own_inbox} +rpush) (~{marks} +hget +hset) (~{waiting} +sadd)"
            f" (~{beat} +xadd +expire)")


ACL_RULES = acl_rules()  # one Redis, one stream

BATCH_SIZE = 500
BATCHES_PER_ROUND = 4
PUSH_EVERY = 1.0  # seconds between pushes while Redis answers
PULL_EVERY = 60.0  # seconds between pulls of the trust list and denylist
KEEP = 30 * 86400  # seconds a pushed scan stays in the journal, for audits on the bus
PRUNE_EVERY = 3600.0
SOCKET_TIMEOUT = 5.0  # long enough to send one batch over a slow mobile link
REPLICA_WAIT_MS = 2000  # how long a push waits for a replica to hold it
CONNECT_TIMEOUT = 3.0
OFFLINE_AFTER = 30.0  # seconds without a good round before the screen says "offline"
# A round with nothing to send and no pull due does not reach Redis: after this many seconds
# without an answer from it, the loop asks Redis's time, so that a validator with an empty
# journal still finds out within seconds that Redis is away (TIME reads no key; a fleet of
# 3,000 asks 600 times a second at most).
PROBE_EVERY = 5.0

def connect(url: str, *, username: str | None = None, password: str | None = None) -> redis.Redis:
    """A Redis client for the sync: short timeouts, one quick retry on a fresh connection.

    The retry covers a connection that died while idle (Redis restarted); anything longer
    is the sync loop's backoff, not the client's. ``username`` and ``password`` are the
    validator's own ACL user, given apart from the URL so the password is never in it.
    """
    credentials = {}
    if username is not None:
        credentials["username"] = username
    if password is not None:
        credentials["password"] = password
    return redis_client.from_url(
        url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1), **credentials)


class NotReplicated(redis.ConnectionError):
    """Redis took a batch, but not yet enough replicas hold it: sent again next round.

    A connection error to the loop (it backs off), though Redis itself answered: the
    heartbeat still goes, and tells the operators the trips are waiting."""


@dataclass(frozen=True)
class Pushed:
    added: int  # trips added to the stream
    already: int  # trips Redis already held (a retry after a crash)
    pushed_seq: int  # everything in the journal up to this is in Redis
    more: bool  # the round was full: there may be more to send


class Syncer:
    """Pushes one journal's trips to Redis and pulls the lists into ``lists``."""

    def __init__(self, journal: Journal, lists: Lists, client: redis.Redis, *, validator_id: str,
                 batch_size: int = BATCH_SIZE, batches_per_round: int = BATCHES_PER_ROUND,
                 push_every: float = PUSH_EVERY, pull_every: float = PULL_EVERY,
                 keep: float = KEEP, backoff: AbstractBackoff | None = None,
                 clock: Clock | None = None, shard: str | None = None,
                 min_replicas: int | None = None, replica_wait_ms: int = REPLICA_WAIT_MS,
                 heartbeat: Heartbeat | None = None, route=None):
        self.journal = journal
        # A callable naming the route the bus runs now: its stops are pulled with the lists,
        # and at once after the route changes. None: no stops (benches, some tests).
        self.route = route
        self.stops_pulled_for: str | None = None
        self.lists = lists
        self.client = client
        self.cluster = redis_client.is_cluster(client)
        # A cluster's trips are sharded; one Redis has one stream. The validator's keys
        # share the slot of its shard's stream.
        self.inbox = inbox(validator_id, shard)
        self.ready = ready(shard)
        self.hwm = marks_key(validator_id, shard)
        # A batch counts as pushed once this many replicas hold it: a master lost in a
        # failover takes with it what it had not yet passed on, and the validator must then
        # still have it to send again. A cluster has replicas; one Redis may have none.
        self.min_replicas = (1 if self.cluster else 0) if min_replicas is None else min_replicas
        self.replica_wait_ms = replica_wait_ms
        self.key = f"{validator_id}/{journal.epoch}"
        self.batch_size = batch_size
        self.batches_per_round = batches_per_round
        self.push_every = push_every
        self.pull_every = pull_every
        self.keep = keep
        self.backoff = backoff or ExponentialBackoff(cap=30.0, base=0.5)
        self.clock = clock  # measured against Redis at each pull, when given
        self.heartbeat = heartbeat  # validator.heartbeat; none in benches and some tests
        self.beat_key = heartbeat_key(validator_id, shard)
        self._next_beat = 0.0  # time.monotonic(): the loop's clock may be corrected under it
        # When each list was last read from Redis and found good: the heartbeat says it.
        self.fetched_at: dict[str, float | None] = {"trust": None, "denylist": None}
        self.last_beat_at: float | None = None  # Redis's time of the last beat written
        self.last_beat_error: str | None = None
        self.last_push_at: float | None = None
        self.last_pull_at: float | None = None
        self.last_error: str | None = None
        self.last_ok_at: float | None = None  # the end of the last round with no error
        self._heard = float("-inf")  # time.monotonic() of Redis's last answer

    # -- push ------------------------------------------------------------------------------

    def push_once(self, now: float, batches: int | None = None) -> Pushed:
        """Send one round of unsent trips (``batches`` batches, pipelined).

        Raises redis.RedisError when Redis is unreachable or refuses; what it did take
        before that is noted in the journal first.
        """
        batches = batches or self.batches_per_round
        rows = self.journal.unsent(self.batch_size * batches)
        if not rows:
            self.last_push_at = now
            return Pushed(0, 0, self.journal.pushed_seq, more=False)
        chunks = [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        with self._target().pipeline(transaction=False) as pipe:
            after = 0
            for chunk in chunks:
                args = [self.key, after]
                for seq, payload in chunk:
                    args += [seq, payload]
                pipe.fcall("vexe_push", 3, self.inbox, self.hwm, self.ready, *args)
                after = chunk[-1][0]
            if self.min_replicas:
                # On the same connection as the writes: WAIT counts replicas holding them.
                pipe.execute_command("WAIT", self.min_replicas, self.replica_wait_ms)
            try:
                results = pipe.execute(raise_on_error=False)
            except redis.RedisError:
                self._forget_layout()
                raise
        self._heard = time.monotonic()
        if self.min_replicas:
            *results, replicas = results
            if isinstance(replicas, Exception) or replicas < self.min_replicas:
                # Not yet safe from a failover: note nothing, send again next round (the
                # function skips whatever did land).
                self._forget_layout()
                raise NotReplicated(
                    f"trips not yet on {self.min_replicas} replica(s): {replicas}")
        added = already = 0
        confirmed = None
        error = None
        for chunk, result in zip(chunks, results):
            if isinstance(result, Exception):
                error = result
                self._forget_layout()
                break
            chunk_added, chunk_already, hwm = result
            if hwm < chunk[-1][0]:
                break  # an earlier batch of this round failed; its error is already noted
            added += chunk_added
            already += chunk_already
            confirmed = chunk[-1][0]
        # Only now that Redis has answered: a crash before this line means a resend, which
        # the function turns into nothing.
        if confirmed is not None:
            self.journal.mark_pushed(confirmed)
        if error is not None:
            raise error
        self.last_push_at = now
        if added:
            log.debug("pushed %d trips (up to seq %d)", added, confirmed)
        return Pushed(added, already, self.journal.pushed_seq,
                      more=len(rows) == self.batch_size * batches)

    def push_all(self, now: float, batches: int | None = None) -> int:
        """Push rounds until the journal has nothing unsent; the number of trips added."""
        total = 0
        while True:
            pushed = self.push_once(now, batches)
            total += pushed.added
            if not pushed.more:
                return total

    def _target(self):
        """Where the push goes: the Redis itself, or on a cluster the master of the shard's
        slot, as one connection (WAIT and the writes must share it)."""
        if not self.cluster:
            return self.client
        return self.client.get_node_from_key(self.inbox).redis_connection

    def _forget_layout(self) -> None:
        """After a failure on a cluster: read the layout again before the next try, so a
        failed-over slot is found on its new master."""
        if self.cluster:
            try:
                self.client.nodes_manager.initialize()
            except redis.RedisError as exc:  # the cluster is still electing: next round
                log.debug("cluster layout not read: %s", exc)

    # -- pull ------------------------------------------------------------------------------

    def pull_once(self, now: float) -> dict[str, str]:
        """Fetch the trust list, the denylist and the route's stops; each is "changed",
        "same", "missing" or "bad" (the stops also "none": a route the network can't have).

        A list missing from Redis or one that does not parse leaves the last good one in use.
        """
        route = self.route() if self.route is not None else None
        stops_key = route_stops(route) if route is not None else None
        with self.client.pipeline(transaction=False) as pipe:
            pipe.get(TRUST_LIST)
            pipe.get(DENYLIST)
            if stops_key is not None:
                pipe.get(stops_key)
            # An error on the stops alone (a Redis user made before they existed may not
            # read them) must not hold back the trust list and the denylist.
            trust_raw, deny_raw, *stops_raw = pipe.execute(raise_on_error=False)
        for raw in (trust_raw, deny_raw):
            if isinstance(raw, Exception):
                raise raw
        self._heard = time.monotonic()
        outcome = {"trust": self._apply("trust list", trust_raw, self.lists.update_trust),
                   "denylist": self._apply("denylist", deny_raw, self.lists.update_denylist)}
        if route is not None:
            if stops_key is None:
                outcome["stops"] = "none"
            elif isinstance(stops_raw[0], Exception):
                outcome["stops"] = "refused"
                log.warning("the stops of route %s not read (%s): does this validator's "
                            "Redis user need `vexe validator acl update`?", route, stops_raw[0])
            else:
                outcome["stops"] = self._apply(f"stops of route {route}", stops_raw[0],
                                               lambda text: self.lists.update_stops(route, text))
            self.stops_pulled_for = route
        for name, result in outcome.items():
            if result in ("changed", "same"):  # what the validator holds is Redis's, as of now
                self.fetched_at[name] = now
        if self.clock is not None:
            # A round trip of its own (a cluster pipeline can't carry TIME), timed closely.
            sent = self.clock.device_now()
            seconds, micros = self.client.time()
            self.clock.measure(sent, seconds + micros / 1e6, self.clock.device_now())
        self.last_pull_at = now
        return outcome

    @staticmethod
    def _apply(what: str, raw: bytes | None, update) -> str:
        if raw is None:
            return "missing"
        try:
            changed = update(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            log.error("ignoring the %s in Redis, keeping the last good one: %s", what, exc)
            return "bad"
        if changed:
            log.info("new %s from Redis", what)
        return "changed" if changed else "same"

    # -- heartbeat -------------------------------------------------------------------------

    def beat_once(self) -> float:
        """Write the heartbeat now, one round trip; the time Redis dated it by (its id).

        Raises redis.RedisError when Redis is unreachable or refuses (an ACL user made before
        heartbeats existed has no right to the key).
        """
        if self.heartbeat is None:
            raise ValueError("this sync has no heartbeat")
        text = self.heartbeat.text(fetched_at=dict(self.fetched_at))
        entry_id = self._target().fcall("vexe_beat", 1, self.beat_key, text, self.heartbeat.ttl)
        if isinstance(entry_id, bytes):
            entry_id = entry_id.decode("ascii")
        self.last_beat_at = int(entry_id.split("-")[0]) / 1000
        self.last_beat_error = None
        self._heard = time.monotonic()
        return self.last_beat_at

    def _beat(self, after: Exception | None = None) -> None:
        """The heartbeat, if one is due, after a round; never raises.

        After a round that failed on Redis itself refusing (a replica missing, a right
        missing) the beat still goes: it tells the operators the trips are piling up. After
        a round that could not reach Redis it would only wait for the same timeout.
        """
        if self.heartbeat is None or time.monotonic() < self._next_beat:
            return
        if isinstance(after, (redis.ConnectionError, redis.TimeoutError, RedisClusterException)) \
                and not isinstance(after, NotReplicated):
            return
        self._next_beat = time.monotonic() + self.heartbeat.every
        try:
            self.beat_once()
        except Exception as exc:  # a heartbeat never stops the sync
            first = self.last_beat_error is None
            self.last_beat_error = f"{type(exc).__name__}: {exc}"
            log.log(logging.WARNING if first else logging.DEBUG, "heartbeat not written: %s",
                    self.last_beat_error)

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Sync until ``stop`` is set, then make one last push attempt."""
        failures = 0
        # Due times on time.monotonic(): a step of the device clock moves neither.
        next_pull = next_prune = 0.0
        while not stop.is_set():
            now, tick = self._now(), time.monotonic()
            try:
                # A step of the device clock (noticed by self._now()) is measured at once; a
                # new route's stops are pulled at once.
                if tick >= next_pull or (self.clock is not None and self.clock.step is not None) \
                        or (self.route is not None and self.route() != self.stops_pulled_for):
                    self.pull_once(now)
                    next_pull = tick + self.pull_every
                # After a failure, one batch per round: on a slow link a full round may not
                # get through before the socket times out, and it would be sent again whole.
                self.push_all(now, batches=1 if failures else None)
                if tick >= next_prune:
                    self.journal.prune(int((now - self.keep) * 1000))
                    next_prune = tick + PRUNE_EVERY
                if time.monotonic() - self._heard >= PROBE_EVERY:
                    self._target().time()  # raises when Redis is away
                    self._heard = time.monotonic()
            except Exception as exc:  # the loop must outlive any one failure
                failures += 1
                delay = self.backoff.compute(failures)
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, (redis.RedisError, RedisClusterException)):
                    log.exception("sync failed; next try in %.1f s", delay)
                else:
                    level = logging.WARNING if failures == 1 else logging.DEBUG
                    log.log(level, "Redis unreachable (%s); %d scans waiting, next try in %.1f s",
                            self.last_error, self.journal.backlog(), delay)
                self._beat(after=exc)
                stop.wait(delay)
                continue
            if failures:
                log.info("Redis reachable again after %d failed tries; journal pushed", failures)
            failures = 0
            self.last_error = None
            self.last_ok_at = self._now()  # after the pull: the offset may have just changed
            self._beat()
            stop.wait(self.push_every)
        self.final_push()

    def final_push(self) -> None:
        """One last attempt to empty the journal before the process ends; never raises."""
        try:
            self.push_all(self._now())
        except redis.RedisError as exc:
            log.warning("last push failed, %d scans stay in the journal for next time: %s",
                        self.journal.backlog(), exc)

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else clock.now()

    def online(self, now: float) -> bool:
        """Whether Redis answered the last round, and recently enough to count."""
        return (self.last_error is None and self.last_ok_at is not None
                and now - self.last_ok_at <= OFFLINE_AFTER)

    def status(self) -> dict:
        return {"last_push_at": self.last_push_at, "last_pull_at": self.last_pull_at,
                "last_error": self.last_error, "last_beat_at": self.last_beat_at,
                "last_beat_error": self.last_beat_error}
