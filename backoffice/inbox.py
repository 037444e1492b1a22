"""The validators' inboxes into the trips stream, by the ingest's own (the operator's) connection.

A validator pushes its trips to an inbox of its own (validator.sync, ``vexe_push``) and
never writes the stream, which every validator's trips share: a validator that could write
it could trim other validators' trips away (XADD MAXLEN) or add the last possible entry id,
after which the stream takes nothing more. The function ``vexe_move``
(shared.redis_functions) moves the inboxes with trips waiting into the stream, atomically:
each entry once, with an id Redis chooses and the name of the validator whose inbox it came
from, which the ingest checks against the trip (backoffice.entries). Several workers
may move at once; each entry goes to one of them.

A validator's user must itself hold RPUSH on its inbox (Redis checks what a function runs
against the caller's rights), so a stolen password can fill that inbox by hand, past
anything ``vexe_push`` would let in, until Redis is out of memory and refuses every
validator's trips. ``police`` bounds that: an inbox over the quota switches its validator's
user off (:func:`validator.acl.switch_off`) and is cut back to the quota, its oldest entries
kept (those the bus pushed before the flood) and moved as any others.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import redis
from redis.exceptions import RedisClusterException

from backoffice import ingest_metrics
from shared import clock, redis_functions
from shared.redis_keys import inbox, ready, switched_off, trips_stream
from validator import acl

log = logging.getLogger(__name__)

MOVE_BUDGET = 10_000  # entries moved in one call: Redis serves no one else during it (~10 ms)
MOVE_ROUND = 200_000  # entries moved at most before the ingest reads (its batch)
# Entries an inbox may hold (VEXE_INGEST_INBOX_QUOTA). A bus makes about 2,000 scans a day
# and pushes every second or so, and a running ingest moves its inbox ten times a second: a
# legitimate inbox holds a few entries, and a whole day's trips only when no ingest ran for
# a day. 20,000 is ten such days (under 10 MB at 350 bytes a trip); past it, a validator is
# writing its inbox by hand.
QUOTA = 20_000
# And bytes (MEMORY USAGE), per entry of the quota: a trip is at most MAX_TRIP bytes, and
# twice that leaves room for Redis's own overhead. An entry can be 512 MB (Redis's
# proto-max-bulk-len): a few by hand are over this while their count is far under the quota.
QUOTA_BYTES_PER_ENTRY = 2 * redis_functions.MAX_TRIP
POLICE_EVERY = 5.0  # seconds between looks at every inbox (a SCAN of the keys)
SCAN_COUNT = 1000


def move(client: redis.Redis, shard: str | None = None, most: int = MOVE_ROUND) -> int:
    """Move what the inboxes hold into the stream of ``shard``, up to ``most`` entries; how
    many went (refused ones too: they go as entries the ingest keeps among the rejects).

    Loads the functions first if Redis has none (a Redis that restarted empty)."""
    stream, waiting = trips_stream(shard), ready(shard)
    total = 0
    while total < most:
        try:
            moved, refused, left = _call(client, stream, waiting,
                                         min(MOVE_BUDGET, most - total))
        except redis.OutOfMemoryError:
            # Moving adds to the stream; reading and trimming it is what frees the memory,
            # so the worker goes on with that and the inboxes wait (the validators keep
            # their trips in their journals meanwhile).
            log.warning("Redis is at maxmemory: the inboxes wait until the stream is trimmed")
            break
        total += moved + refused
        if not left:  # no inbox waits
            break
    return total


def load_functions(client) -> None:
    """This version's functions, replacing an earlier version's, when a worker starts. Not
    fatal: Redis may be away (``move`` loads them when it finds none), or this user may not
    load functions (``vexe validator acl create``/``update`` load them too)."""
    try:
        redis_functions.load(client)
    except (redis.RedisError, RedisClusterException) as exc:
        log.warning("Redis functions not loaded: %s", exc)


def _call(client, stream: str, waiting: str, budget: int) -> list[int]:
    try:
        return client.fcall("vexe_move", 2, stream, waiting, budget)
    except redis.ResponseError as exc:
        if not redis_functions.ensure(client, exc):
            raise
    return client.fcall("vexe_move", 2, stream, waiting, budget)


@dataclass(frozen=True)
class SwitchedOff:
    """What ``police`` found in an inbox over the quota, and did."""

    validator: str
    entries: int  # in the inbox when found
    bytes: int  # its memory then (MEMORY USAGE)
    kept: int  # oldest entries kept, to be moved as any others
    user: bool  # whether there was a Redis user to switch off
    at_ms: int


def police(client, shard: str | None = None, quota: int = QUOTA) -> list[SwitchedOff]:
    """Every inbox of ``shard`` over ``quota`` entries, or over ``quota`` times
    QUOTA_BYTES_PER_ENTRY bytes: its validator's Redis user switched off and its open
    connections closed, then the inbox cut back to its oldest entries and offered to the
    move. Logged at ERROR, counted, and recorded in Redis for ``vexe ingest status``.

    Inboxes are found by their names (SCAN), not by the ready set: a validator that writes
    its inbox by hand need not say so there."""
    prefix = inbox("", shard)  # no glob character: a shard's name has none (redis_keys.SHARD)
    names = list(dict.fromkeys(  # a SCAN may give a key twice
        client.scan_iter(match=prefix + "*", count=SCAN_COUNT, _type="LIST")))
    if not names:
        return []
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
        # SAMPLES 0: every node of the list. The default (5) extrapolates from the first
        # nodes, and missed a 20 MB entry pushed after a thousand small ones.
        pipe.memory_usage(name, samples=0)
    sizes = pipe.execute()
    done = []
    for name, length, size in zip(names, sizes[::2], sizes[1::2]):
        size = size or 0
        if length > quota or size > quota * QUOTA_BYTES_PER_ENTRY:
            validator = _text(name)[len(prefix):]
            done.append(_switch_off(client, shard, name, validator, length, size, quota))
    return done


def _switch_off(client, shard, name, validator: str, length: int, size: int,
                quota: int) -> SwitchedOff:
    # The user first, its connections closed: nothing more lands while the inbox is cut.
    try:
        user = acl.switch_off(client, validator)
    except (acl.AclError, redis.RedisError, RedisClusterException) as exc:
        # The ingest's user may not run ACL commands: the inbox is cut all the same.
        log.error("validator %s's Redis user could not be switched off: %s", validator, exc)
        user = False
    kept = _cut(client, name, min(length, quota), quota * QUOTA_BYTES_PER_ENTRY)
    if kept:
        client.sadd(ready(shard), name)  # the kept entries go to the stream at the next move
    done = SwitchedOff(validator, length, size, kept, user, int(clock.now() * 1000))
    client.hset(switched_off(shard), validator, json.dumps(asdict(done)))
    ingest_metrics.switched_off()
    log.error("validator %s wrote %d entries (%d bytes) to its inbox %s, over the quota of "
              "%d: %s, and its inbox cut to its oldest %d entries. A stolen password? "
              "`vexe validator acl create %s --replace` gives a new one and switches it on",
              validator, length, size, _text(name), quota,
              "its Redis user switched off and its connections closed" if user
              else "no Redis user of that name to switch off", kept, validator)
    return done


def _cut(client, name, keep: int, most_bytes: int) -> int:
    """Keep the oldest ``keep`` entries of the inbox, fewer while they take more than
    ``most_bytes``; how many are kept. Large entries are found by memory, not read: each
    halving is one LTRIM and one MEMORY USAGE. Trips the bus pushed just before a flood
    of large entries may go with them (its journal keeps them, for an audit)."""
    while keep > 0:
        client.ltrim(name, 0, keep - 1)
        if (client.memory_usage(name, samples=0) or 0) <= most_bytes:
            return keep
        keep //= 2
    client.delete(name)
    return 0


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
