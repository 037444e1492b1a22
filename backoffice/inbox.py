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
validator's trips; so can it fill its marks (HSET) and its beat stream (XADD). ``police``
bounds that: a key over its bound switches its validator's user off
(:func:`validator.acl.switch_off`) and is cut back: an inbox to the quota, its oldest
entries kept (those the bus pushed before the flood) and moved as any others.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import NamedTuple

import redis
from redis.exceptions import RedisClusterException

from backoffice import ingest_metrics
from shared import clock, redis_functions
from shared.redis_keys import heartbeat, inbox, ready, switched_off, trips_stream
from validator import acl
from validator.sync import marks_key

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
# A validator's other keys of its own: its marks hold one field per journal it ever had (a
# handful), its beat stream one entry of at most MAX_BEAT bytes.
OWN_KEY_ENTRIES = 1000
OWN_KEY_BYTES = 1024 * 1024
POLICE_EVERY = 5.0  # seconds between looks at every validator's keys (a SCAN of them)
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
    """What ``police`` found in a validator's key over its bound, and did."""

    validator: str
    key: str  # its inbox, its marks or its beat
    entries: int  # in the key when found
    bytes: int | None  # its memory then (MEMORY USAGE); None: over its count, not measured
    kept: int  # oldest entries of an inbox kept, to be moved as any others; else 0
    user: bool  # whether there was a Redis user to switch off
    at_ms: int


class _Kind(NamedTuple):
    length: str  # the command that counts its entries
    most: int  # entries it may hold
    most_bytes: int


def police(client, shard: str | None = None, quota: int = QUOTA) -> list[SwitchedOff]:
    """Every key a validator's user may write by hand, on ``shard``, over its bound: the
    validator's Redis user switched off and its open connections closed, then the key cut
    back: an inbox to its oldest entries (over ``quota``, or ``quota`` times
    QUOTA_BYTES_PER_ENTRY bytes), offered to the move; marks or a beat deleted (over
    OWN_KEY_ENTRIES or OWN_KEY_BYTES). Logged at ERROR, counted, and recorded in Redis for
    ``vexe ingest status``.

    Keys are found by their names (SCAN), not by the ready set: a validator that writes its
    inbox by hand need not say so there."""
    kinds = {inbox("", shard): _Kind("LLEN", quota, quota * QUOTA_BYTES_PER_ENTRY),
             marks_key("", shard): _Kind("HLEN", OWN_KEY_ENTRIES, OWN_KEY_BYTES),
             heartbeat("", shard): _Kind("XLEN", OWN_KEY_ENTRIES, OWN_KEY_BYTES)}
    # Each prefix holds no glob character (a shard's name has none, redis_keys.SHARD), and
    # all three are "vexe:{<tag>}:<word>:": one SCAN of the tag's keys finds them.
    found = []
    for name in dict.fromkeys(  # a SCAN may give a key twice
            client.scan_iter(match=inbox("", shard).rpartition("in:")[0] + "*",
                             count=SCAN_COUNT)):
        text = _text(name)
        prefix = next((p for p in kinds if text.startswith(p)), None)
        if prefix is not None and len(text) > len(prefix):
            found.append((name, text[len(prefix):], kinds[prefix]))
    # Counted first (O(1)), then measured, only those under their count: MEMORY USAGE
    # SAMPLES 0 walks the whole key. (The default, 5 samples, extrapolates, and missed a
    # 20 MB entry pushed after a thousand small ones.) A key of another type counts 0.
    lengths = _each(client, [(kind.length, name) for name, _, kind in found])
    small = [key for key, n in zip(found, lengths) if n <= key[2].most]
    sizes = dict(zip((name for name, _, _ in small), _each(
        client, [("MEMORY", "USAGE", name, "SAMPLES", 0) for name, _, _ in small])))
    done = []
    for (name, validator, kind), length in zip(found, lengths):
        size = sizes.get(name)  # None: over its count already, not measured
        if length > kind.most or (size or 0) > kind.most_bytes:
            done.append(_switch_off(client, shard, name, validator, length, size, kind))
    return done


def _each(client, commands: list[tuple]) -> list[int]:
    """Each command's answer, in one round trip; 0 for one Redis refused."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return [n if isinstance(n, int) else 0 for n in pipe.execute(raise_on_error=False)]


def _switch_off(client, shard, name, validator: str, length: int, size: int | None,
                kind: _Kind) -> SwitchedOff:
    # The user first, its connections closed: nothing more lands while the key is cut.
    try:
        user = acl.switch_off(client, validator)
    except (acl.AclError, redis.RedisError, RedisClusterException) as exc:
        # The ingest's user may not run ACL commands: the key is cut all the same.
        log.error("validator %s's Redis user could not be switched off: %s", validator, exc)
        user = False
    if kind.length == "LLEN":
        kept = _cut(client, name, min(length, kind.most), kind.most_bytes)
        if kept:
            client.sadd(ready(shard), name)  # they go to the stream at the next move
    else:
        # Marks the bus needs again are made again: a push above no mark is taken, and a
        # trip sent twice counts once. A beat comes back with the next one.
        kept = 0
        client.delete(name)
    done = SwitchedOff(validator, _text(name), length, size, kept, user,
                       int(clock.now() * 1000))
    client.hset(switched_off(shard), validator, json.dumps(asdict(done)))
    ingest_metrics.switched_off()
    log.error("validator %s wrote %d entries (%s bytes) to %s, over the %d entries or %d "
              "bytes it may hold: %s, and the key cut to %d entries. A stolen password? "
              "`vexe validator acl create %s --replace` gives a new one and switches it on",
              validator, length, "?" if size is None else size, _text(name), kind.most,
              kind.most_bytes, "its Redis user switched off and its connections closed"
              if user else "no Redis user of that name to switch off", kept, validator)
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
