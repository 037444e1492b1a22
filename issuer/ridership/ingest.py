"""The ingest worker: the trips stream into the database through a Redis consumer group.

Several workers share the stream, each under its own consumer name. A worker:

- first moves the validators' inboxes into the stream (:mod:`issuer.ridership.inbox`):
  validators never write the stream, and what the move lets in is at most
  ``shared.redis_functions.MAX_TRIP`` bytes an entry, so a batch holds at most ``batch``
  times that;
- reads new entries with XREADGROUP (the group is created at the start of the stream the
  first time, so nothing pushed before the first worker is missed);
- writes a batch in one database transaction (:mod:`issuer.ridership.store`), and only
  after the commit acknowledges it with XACK: a worker killed in between leaves its entries
  pending, and the trips they hold are not in the database, or are there counted once;
- takes over entries another consumer left pending for ``claim_idle_ms`` (XAUTOCLAIM): a
  dead worker's batch is written by a live one, and the trip ids make a second write of a
  committed batch count nothing;
- first re-reads its own pending entries when it starts or after a failed batch;
- trims the stream below what every group still needs and what is older than ``retain_ms``.

An entry that is not a trip is kept in ``ingest_rejects`` with the reason and acknowledged.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from redis.backoff import ExponentialBackoff

from issuer import db
from issuer.ridership import entries, inbox, store
from shared import clock, redis_client
from shared.redis_keys import TRIPS_GROUP, TRIPS_STREAM, trips_stream

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
TRIM_EVERY = 60.0
RETAIN_MS = 3600_000  # acknowledged entries stay an hour in Redis, for a person to look at
REJECT_RAW = 2000  # characters of a bad entry kept
RETRY_CAP = 5.0  # seconds between tries, at most, while the database or Redis is away


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


class Worker:
    def __init__(self, database_url: str, client: redis.Redis, consumer: str, *,
                 batch: int = BATCH, block_ms: int = BLOCK_MS,
                 claim_idle_ms: int = CLAIM_IDLE_MS, retain_ms: int = RETAIN_MS,
                 limits: store.Limits = store.Limits(), shard: str | None = None):
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
        self.limits = limits
        # Entries as Redis sent them (a flat list of names and values per entry): turning
        # tens of thousands a second into dicts cost more than decoding their JSON. The
        # client is the worker's own (``connect``).
        client.set_response_callback("XREADGROUP", _as_sent)
        self._own_pending = True  # at start: entries this consumer read before a crash
        if self.engine.dialect.name == "sqlite":
            # Readers (the console) go on while the ingest writes. Persistent per file.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, TRIPS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

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
        now_ms = int(now * 1000)
        rows, rejects = [], []
        for entry_id, fields in batch:
            try:
                rows.append(entries.parse(entry_id, fields))
            except entries.NotATrip as exc:
                rejects.append({"entry_id": entry_id, "received_ms": now_ms,
                                "error": str(exc)[:300], "raw": _raw(fields)})
        with self.engine.begin() as conn:
            written = store.write(conn, rows, now_ms=now_ms, limits=self.limits)
            if rejects:
                conn.execute(sa.text(
                    "INSERT INTO ingest_rejects (entry_id, received_ms, error, raw) "
                    "VALUES (:entry_id, :received_ms, :error, :raw) "
                    "ON CONFLICT (entry_id) DO NOTHING"), rejects)
        for reject in rejects:
            log.warning("stream entry %s is not a trip: %s", reject["entry_id"], reject["error"])
        if batch:
            self.client.xack(self.stream, TRIPS_GROUP, *[i for i, _ in batch])
        return Handled(len(batch), written, len(rejects))

    def step(self, now: float, wait: bool = True) -> Handled | None:
        """Move the validators' inboxes into the stream, then read one batch and write it;
        None when the stream had nothing."""
        moved = inbox.move(self.client, self.shard, self.batch)
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

    def drain(self, now: float) -> int:
        """Write everything waiting for this consumer now; the number of entries. For
        commands and tests: ``run`` is the long-lived loop."""
        total = 0
        while (handled := self.step(now, wait=False)) is not None:
            total += handled.entries
        return total

    # -- trimming --------------------------------------------------------------------------

    def trim(self, now: float) -> int:
        """Drop entries every group has acknowledged and older than ``retain_ms``."""
        floor = f"{int(now * 1000) - self.retain_ms}-0"
        for group in self.client.xinfo_groups(self.stream):
            name = _text(group["name"])
            pending = self.client.xpending(self.stream, name)
            needed = _text(pending["min"]) if pending["pending"] else _next(
                _text(group["last-delivered-id"]))
            floor = min(floor, needed, key=_id_key)
        return self.client.xtrim(self.stream, minid=floor, approximate=True)

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        tune_gc()
        inbox.load_functions(self.client)
        self.ensure_group()
        failures = 0
        # Capped at a few seconds: after a long outage the worker is back within that of
        # the database or Redis, and the trips waiting are what the dashboard lacks.
        backoff = ExponentialBackoff(cap=RETRY_CAP, base=0.5)
        next_claim = next_trim = 0.0
        log.info("ingest worker %s reading %s", self.consumer, self.stream)
        while not stop.is_set():
            try:
                now = clock.now()
                if now >= next_claim:
                    claimed = self.claim()
                    if claimed:
                        self.handle(claimed, clock.now())
                    next_claim = now + CLAIM_EVERY
                if now >= next_trim:
                    self.trim(now)
                    next_trim = now + TRIM_EVERY
                self.step(clock.now())
            except Exception as exc:  # the worker must outlive a Redis or database outage
                failures += 1
                delay = backoff.compute(failures)
                self._own_pending = True
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "ingest failed (%s: %s); retrying in %.1f s",
                        type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc) else "",
                        delay, exc_info=not isinstance(exc, (redis.RedisError, sa.exc.DBAPIError)))
                stop.wait(delay)
                continue
            if failures:
                log.info("ingest going again after %d failures", failures)
            failures = 0


def status(client: redis.Redis, shard: str | None = None) -> dict:
    """The stream and the ingest group: length, entries pending per consumer, lag."""
    stream = TRIPS_STREAM if shard is None else trips_stream(shard)
    out = {"stream": stream, "length": client.xlen(stream), "group": None}
    if not client.exists(stream):
        return out
    for group in client.xinfo_groups(stream):
        if _text(group["name"]) != TRIPS_GROUP:
            continue
        consumers = client.xinfo_consumers(stream, TRIPS_GROUP)
        out["group"] = {"pending": group["pending"], "lag": group.get("lag"),
                        "consumers": [{"name": _text(c["name"]), "pending": c["pending"],
                                       "idle_ms": c["idle"]} for c in consumers]}
    return out


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _as_sent(response, **_options):
    return response


def _raw(fields) -> str:
    pairs = fields.items() if isinstance(fields, dict) else zip(fields[::2], fields[1::2])
    # Each value cut first: what is kept of an entry is bounded, and so is the work.
    text = json.dumps({_text(k[:REJECT_RAW]): _text(v[:REJECT_RAW]) for k, v in pairs},
                      ensure_ascii=False)
    return text[:REJECT_RAW]


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

