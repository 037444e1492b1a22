"""The validators' inboxes into the trips stream, by the ingest's own (the operator's) connection.

A validator pushes its trips to an inbox of its own (validator.sync, ``vexe_push``) and
never writes the stream, which every validator's trips share: a validator that could write
it could trim other validators' trips away (XADD MAXLEN) or add the last possible entry id,
after which the stream takes nothing more. The function ``vexe_move``
(shared.redis_functions) moves the inboxes with trips waiting into the stream, atomically:
each entry once, with an id Redis chooses and the name of the validator whose inbox it came
from, which the ingest checks against the trip (backoffice.entries). Several workers
may move at once; each entry goes to one of them.
"""

from __future__ import annotations

import logging

import redis
from redis.exceptions import RedisClusterException

from shared import redis_functions
from shared.redis_keys import ready, trips_stream

log = logging.getLogger(__name__)

MOVE_BUDGET = 10_000  # entries moved in one call: Redis serves no one else during it (~10 ms)
MOVE_ROUND = 200_000  # entries moved at most before the ingest reads (its batch)


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
