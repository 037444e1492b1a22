"""The ingest worker: the trips stream into the database through a Redis consumer group.

Several workers share the stream, each under its own consumer name. A worker:

- first moves the validators' inboxes into the stream (:mod:`backoffice.inbox`):
  validators never write the stream, and what the move lets in is at most
  ``shared.redis_functions.MAX_TRIP`` bytes an entry, so a batch holds at most ``batch``
  times that;
- every few seconds, looks at every validator's keys: an inbox over ``inbox_quota``
  entries (or marks, a beat, over their bounds) is a validator writing it by hand (a stolen
  password), whose Redis user it switches off and whose key it cuts back
  (``inbox.police``), before Redis runs out of memory for every validator;
- reads new entries with XREADGROUP (the group is created at the start of the stream the
  first time, so nothing pushed before the first worker is missed);
- writes a batch in one database transaction (:mod:`backoffice.store`), and only
  after the commit acknowledges it with XACK: a worker killed in between leaves its entries
  pending, and the trips they hold are not in the database, or are there counted once;
- takes over entries another consumer left pending for ``claim_idle_ms`` (XAUTOCLAIM): a
  dead worker's batch is written by a live one, and the trip ids make a second write of a
  committed batch count nothing;
- first re-reads its own pending entries when it starts or after a failed batch;
- trims the stream below what every group still needs and what is older than ``retain_ms``,
  every round: Redis's memory comes back as fast as entries are acknowledged;
- on PostgreSQL, makes the trips' monthly partitions ahead (:mod:`issuer.platform.partitions`)
  when it starts and every hour after.

An entry that is not a trip is kept in ``ingest_rejects`` with the reason and acknowledged.
So is one the database refuses (a value the decoder let through): a batch the database
refuses is split in halves until the entry is found, and every other one is written. A
worker that cannot write at all (the database away) retries; after a few tries it logs at
ERROR and says so in Redis, where ``vexe ingest status`` shows it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
import redis
import sqlalchemy as sa
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisClusterException

from issuer.platform import db, partitions
from backoffice import entries, inbox, ingest_metrics, store
from backoffice.health import HealthFile
from shared import clock, redis_client
from shared.redis_keys import (TRIPS_GROUP, TRIPS_STREAM, ingest_stall, switched_off,
                               trips_stream)

log = logging.getLogger(__name__)

# Entries read at most per batch. A batch is whatever is waiting, so at a few thousand trips
# a second batches stay small; a backlog goes in big ones, which dirty each page of the
# trips' pass index once for many trips, and commit and take the write lock fewer times (a
# whole day, two workers on SQLite: 27,600 trips/s at 60,000, 35,700 at 200,000).
BATCH = 200_000
# The stream fills from the validators' inboxes, moved before each read (inbox): a short
# wait, so that a trip waits in its inbox no longer than this.
BLOCK_MS = 100
# Far longer than a batch takes (a whole one, about 10 s here): only a dead worker's entries
# idle so long. A batch claimed anyway is written again and counts nothing.
CLAIM_IDLE_MS = 60_000
CLAIM_EVERY = 10.0
# At most once a second (a round is one when idle), Redis is asked what every group still
# needs, and all acknowledged entries past the retention go: no fixed count a minute.
TRIM_EVERY = 1.0
RETAIN_MS = 3600_000  # acknowledged entries stay an hour in Redis, for a person to look at
# The trips' monthly partitions are made a month ahead: once an hour is often enough, and a
# worker that could not (the database user may not create tables) tries again after a minute.
PARTITIONS_EVERY = 3600.0
PARTITIONS_RETRY = 60.0
MAX_AGE_MS = entries.MAX_AGE_DAYS * 86400_000
REJECT_RAW = 2000  # characters of a bad entry kept
RETRY_CAP = 5.0  # seconds between tries, at most, while the database or Redis is away
# Failures in a row that make a stall: logged at ERROR (then once a minute) and shown in
# ``vexe ingest status`` (about 3.5 s of retrying; one or two are a blip, at WARNING).
STALL_FAILURES = 3
STALL_LOG_EVERY = 60.0
STALL_TTL = 300  # seconds a stall's record outlives the worker that stopped refreshing it

# What the database refuses for what a row holds, and will refuse again: the batch is split
# to find the row. Anything else (a lost connection, a missing table) is retried as it is.
REFUSED = (psycopg.DataError, psycopg.IntegrityError, sqlite3.DataError,
           sqlite3.IntegrityError, UnicodeError)


def tune_gc() -> None:
    """The cyclic collector off during batches, for a process that is an ingest worker.

    A batch makes hundreds of thousands of tuples and lists that live until it is written,
    and holds no cycles: reference counting frees it. Left to its thresholds, the collector
    went over those objects again and again while the batch was built and found nothing
    (40 % of a worker's time with the defaults; 7 %, 9 s of a day, with higher ones).
    :meth:`Worker.step` collects instead after each batch, when the batch is gone and what
    is left is small. What was loaded at start is frozen out of the collections altogether.
    """
    gc.freeze()
    gc.disable()


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Handled:
    entries: int
    written: store.Written
    rejected: int

    def __add__(self, other: Handled) -> Handled:
        return Handled(self.entries + other.entries, self.written + other.written,
                       self.rejected + other.rejected)


class Worker:
    def __init__(self, database_url: str, client: redis.Redis, consumer: str, *,
                 batch: int = BATCH, block_ms: int = BLOCK_MS,
                 claim_idle_ms: int = CLAIM_IDLE_MS, retain_ms: int = RETAIN_MS,
                 max_age_ms: int = MAX_AGE_MS, limits: store.Limits = store.Limits(),
                 shard: str | None = None, inbox_quota: int = inbox.QUOTA):
        self.engine = db.engine(database_url)
        self.client = client
        # On a Redis Cluster each shard (a group of validators) has its own stream: a worker
        # reads one, and each shard has workers of its own.
        self.shard = shard
        self.stream = TRIPS_STREAM if shard is None else trips_stream(shard)
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.retain_ms = retain_ms
        self.max_age_ms = max_age_ms
        self.limits = limits
        self.inbox_quota = inbox_quota
        self._next_police = 0.0
        # Entries as Redis sent them (a flat list of names and values per entry): turning
        # tens of thousands a second into dicts cost more than decoding their JSON. The
        # client is the worker's own (``connect``).
        client.set_response_callback("XREADGROUP", _as_sent)
        self._own_pending = True  # at start: entries this consumer read before a crash
        self._group_ready = False
        if self.engine.dialect.name == "sqlite":
            # Readers (the console) go on while the ingest writes. Persistent per file.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    def ensure_group(self) -> None:
        """The consumer group, created at the start of the stream unless it is there.

        Looked for first: at maxmemory Redis refuses XGROUP CREATE even for a group that
        exists, and a worker must still start then, to read and acknowledge (which frees the
        memory). A group that is not there and cannot be made raises; ``run`` tries again."""
        if self._group_ready or self._has_group():
            self._group_ready = True
            return
        try:
            self.client.xgroup_create(self.stream, TRIPS_GROUP, id="0", mkstream=True)
        except redis.OutOfMemoryError:
            log.error("Redis is at maxmemory and refuses to create the consumer group %r on "
                      "%s: nothing can be read until it has room (raise maxmemory, or let "
                      "a worker of an existing group trim the stream)", TRIPS_GROUP, self.stream)
            raise
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _has_group(self) -> bool:
        if not self.client.exists(self.stream):
            return False
        return any(_text(g["name"]) == TRIPS_GROUP for g in self.client.xinfo_groups(self.stream))

    def ensure_partitions(self, now: float) -> list[str]:
        """PostgreSQL: the trips' partitions from the oldest month a trip may still be taken
        for to the next month; the names of those made. Trips of a month with none are not
        lost meanwhile: they wait in the DEFAULT partition and move into their month's when
        it is made."""
        with self.engine.begin() as conn:
            made = partitions.ensure(conn, now_ms=int(now * 1000), back_ms=self.max_age_ms)
        if made:
            log.info("trips' partitions made: %s", ", ".join(made))
        return made

    def _partitions_tick(self, now: float) -> float:
        """:meth:`ensure_partitions`, never fatal: the trips are written all the same (into
        DEFAULT). When to try next."""
        try:
            self.ensure_partitions(now)
        except sa.exc.DBAPIError as exc:
            log.error("the trips' monthly partitions could not be made (%s); trips of a month "
                      "with none go to %s until they are", _first_line(exc), partitions.DEFAULT)
            return now + PARTITIONS_RETRY
        return now + PARTITIONS_EVERY

    # -- reading ---------------------------------------------------------------------------

    def read(self, wait: bool = True) -> list[tuple[str, dict]]:
        """This consumer's pending entries first (after a start or a failure), then new ones,
        waiting up to ``block_ms`` for some if ``wait``."""
        if self._own_pending:
            got = self._xreadgroup("0", None)
            if got:
                return got
            self._own_pending = False
        return self._xreadgroup(">", self.block_ms if wait else None)

    def _xreadgroup(self, start: str, block_ms: int | None) -> list[tuple[str, dict]]:
        reply = self.client.xreadgroup(TRIPS_GROUP, self.consumer, {self.stream: start},
                                       count=self.batch, block=block_ms)
        if not reply:
            return []
        # RESP2 answers a list of [stream, entries]; RESP3 a dict.
        items = reply.items() if isinstance(reply, dict) else reply
        return [(_text(i), f) for _, stream_entries in items for i, f in stream_entries
                if f is not None]

    def last_id(self) -> str:
        """The id of the newest entry in the stream ("0-0" when empty)."""
        newest = self.client.xrevrange(self.stream, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    def claim(self) -> list[tuple[str, dict]]:
        """Entries pending on other consumers for ``claim_idle_ms``, now this one's."""
        claimed: list[tuple[str, dict]] = []
        cursor = "0-0"
        while len(claimed) < self.batch:
            cursor, got, deleted = self.client.xautoclaim(
                self.stream, TRIPS_GROUP, self.consumer, self.claim_idle_ms, cursor,
                count=self.batch - len(claimed))
            claimed += [(_text(i), f) for i, f in got if f is not None]
            if deleted:  # trimmed away while pending: nothing left to write
                self.client.xack(self.stream, TRIPS_GROUP, *deleted)
            if _text(cursor) == "0-0":
                break
        if claimed:
            log.info("claimed %d entries left pending by another worker", len(claimed))
        return claimed

    # -- writing ---------------------------------------------------------------------------

    def handle(self, batch: Sequence[tuple[str, dict]], now: float) -> Handled:
        """Write the entries in one transaction; acknowledge them once it is committed."""
        started = time.perf_counter()
        now_ms = int(now * 1000)
        oldest_ms = now_ms - self.max_age_ms
        rows, ids, rejects = [], [], []
        for entry_id, fields in batch:
            try:
                rows.append(entries.parse(entry_id, fields, oldest_ms=oldest_ms))
            except entries.NotATrip as exc:
                rejects.append(_reject(entry_id, fields, now_ms, str(exc)))
            else:
                ids.append(entry_id)
        handled = self._write(rows, ids, rejects, now_ms, batch)
        ingest_metrics.batch_done(handled.entries, handled.written.inserted, handled.rejected,
                                  time.perf_counter() - started)
        return handled

    def _write(self, rows: list[entries.Row], ids: list[str], rejects: list[dict],
               now_ms: int, batch: Sequence[tuple[str, dict]]) -> Handled:
        """``rows`` (from the entries ``ids``) and ``rejects`` in one transaction, then
        acknowledged. A batch the database refuses is split (``batch``: the entries, for
        the one refused)."""
        try:
            with self.engine.begin() as conn:
                written = store.write(conn, rows, now_ms=now_ms, limits=self.limits)
                if rejects:
                    conn.execute(sa.text(
                        "INSERT INTO ingest_rejects (entry_id, received_ms, error, raw) "
                        "VALUES (:entry_id, :received_ms, :error, :raw) "
                        "ON CONFLICT (entry_id) DO NOTHING"), rejects)
        except Exception as exc:
            if not rows or not _refused(exc):
                raise
            return self._split(rows, ids, rejects, now_ms, batch, exc)
        for reject in rejects:
            log.warning("stream entry %s is not a trip: %s", reject["entry_id"], reject["error"])
        done = ids + [r["entry_id"] for r in rejects]
        if done:
            self.client.xack(self.stream, TRIPS_GROUP, *done)
        return Handled(len(done), written, len(rejects))

    def _split(self, rows, ids, rejects, now_ms, batch, exc) -> Handled:
        """Halves of a batch the database refused, each written or split again: the entry it
        refuses is kept aside, with the database's reason, and every other one is written."""
        if len(rows) == 1:
            fields = dict(batch)[ids[0]]
            log.error("the database refuses stream entry %s: %s", ids[0], _first_line(exc))
            refused = _reject(ids[0], fields, now_ms,
                              f"the database refused it: {_first_line(exc)}")
            return self._write([], [], [*rejects, refused], now_ms, batch)
        half = len(rows) // 2
        return (self._write(rows[:half], ids[:half], rejects, now_ms, batch)
                + self._write(rows[half:], ids[half:], [], now_ms, batch))

    def step(self, now: float, wait: bool = True) -> Handled | None:
        """Move the validators' inboxes into the stream, then read one batch and write it;
        None when the stream had nothing."""
        moved = inbox.move(self.client, self.shard, self.batch)
        # Just after the move, which empties the inboxes of the validators that push as
        # they should: what is left over the quota was written by hand.
        if now >= self._next_police:
            self.police(now)
        batch = self.read(wait and not moved)
        if not batch:
            return None
        try:
            return self.handle(batch, now)
        except Exception:
            self._own_pending = True  # read them again, from this consumer's pending list
            raise
        finally:
            del batch
            if not gc.isenabled():  # tune_gc turned it off for the batches: collect now,
                # cheaply (the batch's objects are freed), and all of it, so that a cycle
                # made earlier (a failed batch's traceback) is found too.
                gc.collect()

    def drain(self, now: float, until: str | None = None) -> int:
        """Write everything waiting for this consumer now; the number of entries. For
        commands and tests: ``run`` is the long-lived loop. ``until``: an entry id; stop
        once it is written, whatever came after it."""
        total = 0
        while (handled := self.step(now, wait=False)) is not None:
            total += handled.entries
            if until is not None and not self._own_pending and self._read_past(until):
                break
        return total

    def once(self, now: float) -> int:
        """Everything in the stream when called: entries other consumers left pending for
        ``claim_idle_ms`` (all of them, batch after batch), this consumer's own, and the new
        ones up to the newest entry now. The number of entries."""
        self.ensure_group()
        self._partitions_tick(now)
        self.police(now)  # before the move: a flood goes no further than its inbox
        # What the validators sent until now, all of it: an inbox may hold more than a batch.
        while inbox.move(self.client, self.shard, self.batch) >= self.batch:
            pass
        until = self.last_id()
        total = 0
        while claimed := self.claim():
            total += self.handle(claimed, now).entries
        total += self.drain(now, until)
        self.trim(now)
        return total

    def police(self, now: float) -> list[inbox.SwitchedOff]:
        """The validators' keys over their bounds: the validators switched off, the keys cut
        back (``inbox.police``). Never fatal: the trips go on while Redis refuses this."""
        self._next_police = now + inbox.POLICE_EVERY
        try:
            return inbox.police(self.client, self.shard, self.inbox_quota)
        except (redis.RedisError, RedisClusterException) as exc:
            log.error("the validators' keys were not checked against their bounds: %s",
                      _first_line(exc))
            return []

    def _read_past(self, entry_id: str) -> bool:
        """Whether the group has delivered ``entry_id`` (or a later one)."""
        for group in self.client.xinfo_groups(self.stream):
            if _text(group["name"]) == TRIPS_GROUP:
                return _id_key(_text(group["last-delivered-id"])) >= _id_key(entry_id)
        return False

    # -- trimming --------------------------------------------------------------------------

    def trim(self, now: float) -> int:
        """Drop entries every group has acknowledged and older than ``retain_ms``."""
        floor = f"{max(0, int(now * 1000) - self.retain_ms)}-0"
        for group in self.client.xinfo_groups(self.stream):
            name = _text(group["name"])
            pending = self.client.xpending(self.stream, name)
            needed = _text(pending["min"]) if pending["pending"] else _next(
                _text(group["last-delivered-id"]))
            floor = min(floor, needed, key=_id_key)
        # Whole nodes of the stream (``~``), and no limit on how many (LIMIT 0; Redis's
        # default is 100 nodes a call, which after a long outage took hours to catch up).
        return self.client.xtrim(self.stream, minid=floor, approximate=True, limit=0)

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event, health: HealthFile | None = None) -> None:
        """Until ``stop``; ``health``, if given, is rewritten every few seconds."""
        tune_gc()
        inbox.load_functions(self.client)  # not fatal: Redis may be away or full
        failures = 0
        # Capped at a few seconds: after a long outage the worker is back within that of
        # the database or Redis, and the trips waiting are what the dashboard lacks.
        backoff = ExponentialBackoff(cap=RETRY_CAP, base=0.5)
        next_claim = next_trim = next_partitions = 0.0
        stalled = Stall(self.client, ingest_stall(self.consumer, self.shard))
        last_batch = error = None
        log.info("ingest worker %s reading %s", self.consumer, self.stream)
        while not stop.is_set():
            if health is not None and health.due():
                _write_health(health, last_batch=last_batch, failures=failures, error=error)
            try:
                self.ensure_group()  # in the loop: Redis may be full or away at the start
                now = clock.now()
                if now >= next_partitions:
                    next_partitions = self._partitions_tick(now)
                if now >= next_claim:
                    claimed = self.claim()
                    if claimed:
                        self.handle(claimed, clock.now())
                        last_batch = clock.now()
                    next_claim = now + CLAIM_EVERY
                if now >= next_trim:
                    self.trim(now)
                    next_trim = now + TRIM_EVERY
                if self.step(clock.now()) is not None:
                    last_batch = clock.now()
            except Exception as exc:  # the worker must outlive a Redis or database outage
                error = f"{type(exc).__name__}: {_first_line(exc)}"[:300]
                failures += 1
                ingest_metrics.failed()
                delay = backoff.compute(failures)
                self._own_pending = True
                if "NOGROUP" in str(exc):  # the stream or its group deleted: make it again
                    self._group_ready = False
                stalled.failed(exc, failures)
                log.log(stalled.level(failures), "ingest failed (%s: %s); retrying in %.1f s",
                        type(exc).__name__, _first_line(exc), delay,
                        exc_info=not isinstance(exc, (redis.RedisError, sa.exc.DBAPIError)))
                stop.wait(delay)
                continue
            if failures:
                log.info("ingest going again after %d failures", failures)
                stalled.cleared()
            failures, error = 0, None


def _write_health(health: HealthFile, **state) -> None:
    try:
        health.write(**state)
    except OSError as exc:  # a full disk must not stop the trips; the file's age says it
        log.warning("health file %s not written: %s", health.path, exc)


class Stall:
    """A worker failing round after round: logged at ERROR from the STALL_FAILURES-th
    failure (then once a minute, the tries between at DEBUG), and recorded in Redis for
    ``vexe ingest status`` while it lasts (when Redis itself is what fails, the status says
    Redis is unavailable)."""

    def __init__(self, client: redis.Redis, key: str):
        self.client = client
        self.key = key
        self.since: float | None = None
        self._next_error = 0.0

    def failed(self, exc: Exception, failures: int) -> None:
        now = clock.now()
        if failures == 1:
            self.since = now
        if failures < STALL_FAILURES:
            return
        record = {"since_ms": int(self.since * 1000), "failures": failures,
                  "error": f"{type(exc).__name__}: {_first_line(exc)}"[:300]}
        try:
            self.client.set(self.key, json.dumps(record), ex=STALL_TTL)
        except redis.RedisError:
            pass  # Redis is what fails: the status says so itself

    def level(self, failures: int) -> int:
        if failures == 1:
            return logging.WARNING
        now = clock.now()
        if failures >= STALL_FAILURES and now >= self._next_error:
            self._next_error = now + STALL_LOG_EVERY
            return logging.ERROR
        return logging.DEBUG

    def cleared(self) -> None:
        self.since, self._next_error = None, 0.0
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            pass  # expires by itself


def gauges(client: redis.Redis, shard: str | None = None) -> dict:
    """The numbers to watch the trips stream by: its length and memory, the entries the
    ingest has not acknowledged (``pending``) or not read yet (``lag``), Redis's memory and
    its limit (0: none). One call per number, none of them walks the stream."""
    stream = TRIPS_STREAM if shard is None else trips_stream(shard)
    exists = client.exists(stream)
    group = next((g for g in client.xinfo_groups(stream) if _text(g["name"]) == TRIPS_GROUP),
                 None) if exists else None
    node = ({"target_nodes": client.get_node_from_key(stream)}
            if redis_client.is_cluster(client) else {})
    memory = client.info("memory", **node)
    return {"stream_length": client.xlen(stream),
            "stream_bytes": (client.memory_usage(stream) or 0) if exists else 0,
            "pending": group["pending"] if group else None,
            "lag": group.get("lag") if group else None,
            "redis_used_memory": memory["used_memory"],
            "redis_maxmemory": memory["maxmemory"]}


def status(client: redis.Redis, shard: str | None = None) -> dict:
    """The stream and the ingest group: length, memory, entries pending per consumer, lag,
    the workers stalled, the validators switched off for flooding their keys."""
    stream = TRIPS_STREAM if shard is None else trips_stream(shard)
    numbers = gauges(client, shard)
    off = sorted((json.loads(v) for v in client.hvals(switched_off(shard))),
                 key=lambda record: record["validator"])
    out = {"stream": stream, "length": numbers["stream_length"], "gauges": numbers,
           "group": None, "stalled": [], "switched_off": off}
    if numbers["pending"] is None:
        return out
    consumers = client.xinfo_consumers(stream, TRIPS_GROUP)
    out["group"] = {"pending": numbers["pending"], "lag": numbers["lag"],
                    "consumers": [{"name": _text(c["name"]), "pending": c["pending"],
                                   "idle_ms": c["idle"]} for c in consumers]}
    for c in consumers:
        record = client.get(ingest_stall(_text(c["name"]), shard))
        if record is not None:
            out["stalled"].append({"consumer": _text(c["name"]), **json.loads(record)})
    return out


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _as_sent(response, **_options):
    return response


def _reject(entry_id: str, fields, now_ms: int, error: str) -> dict:
    return {"entry_id": entry_id, "received_ms": now_ms, "error": _storable(error)[:300],
            "raw": _raw(fields)}


def _raw(fields) -> str:
    pairs = fields.items() if isinstance(fields, dict) else zip(fields[::2], fields[1::2])
    # Each value cut first: what is kept of an entry is bounded, and so is the work.
    text = json.dumps({_text(k[:REJECT_RAW]): _text(v[:REJECT_RAW]) for k, v in pairs},
                      ensure_ascii=False)
    return _storable(text[:REJECT_RAW])


def _storable(text: str) -> str:
    """``text`` as both databases take it: a NUL or a lone surrogate (a reason may quote
    the value) written as an escape."""
    return (text.encode("utf-8", "backslashreplace").decode("utf-8")
            .replace("\x00", "\\x00"))


def _refused(exc: Exception) -> bool:
    """Whether the database refused what the rows hold (SQLAlchemy wraps the driver's error
    in its own, when it ran the statement)."""
    return isinstance(getattr(exc, "orig", None) or exc, REFUSED)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _next(entry_id: str) -> str:
    ms, seq = _id_key(entry_id)
    return f"{ms}-{seq + 1}"


def connect(url: str) -> redis.Redis:
    # Bytes, not decoded text: an entry that is not UTF-8 must be a reject, not a stuck worker.
    # A Redis Cluster URL (redis+cluster://) gives the cluster client (shared.redis_client).
    return redis_client.from_url(url, socket_timeout=30,
                                 socket_connect_timeout=5, health_check_interval=30)

