"""Names of the Redis keys the issuer, the validators and the ingest share.

The braces are a hash tag: on Redis Cluster a shard's stream, the validators' inboxes and
high-water marks, and the set of inboxes with trips waiting live in one slot, so one call of
a function (shared.redis_functions) may touch them together. Each validator's heartbeat
lives in its shard's slot too, so it goes to the node the validator already talks to.

A validator writes only keys of its own (its inbox, its marks, its heartbeat) and adds
its inbox's name to the shard's ready set; the stream is written by the ingest alone.

On a Redis Cluster the trips are sharded: each group of validators (a depot, a company) has
its own stream and marks, ``vexe:{trips:<shard>}:...``, in a slot of their own, so the
groups spread over the cluster's masters. ``shard=None`` is the single stream of one Redis.
"""

import re

TRIPS_STREAM = "vexe:{trips}:stream"
TRIPS_HWM = "vexe:{trips}:hwm"  # hash: "<validator>/<journal epoch>" -> last pushed seq
TRUST_LIST = "vexe:trust"  # the JWKS, as a JSON string
DENYLIST = "vexe:deny"  # the denylist, as a JSON string
STOPS_PREFIX = "vexe:stops:"  # + a route code: that route's stops (shared.stops), JSON
STOPS = STOPS_PREFIX + "*"  # every route's (SCAN MATCH, and the validators' ACL pattern)
TRIPS_GROUP = "ingest"  # the consumer group of the ingest workers on TRIPS_STREAM

SHARD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def _tag(shard: str | None) -> str:
    if shard is None:
        return "trips"
    if not isinstance(shard, str) or not SHARD.fullmatch(shard):
        raise ValueError(f"shard {shard!r} must be 1 to 32 letters, digits, '.', '_' or '-'")
    return f"trips:{shard}"


def trips_stream(shard: str | None = None) -> str:
    """The trips stream of ``shard``; TRIPS_STREAM when None."""
    return f"vexe:{{{_tag(shard)}}}:stream"


def trips_hwm(shard: str | None = None) -> str:
    """The hash of journal high-water marks beside ``trips_stream(shard)``."""
    return f"vexe:{{{_tag(shard)}}}:hwm"


def inbox(validator_id: str, shard: str | None = None) -> str:
    """One validator's inbox: a list of the trips it pushed, waiting to go into the stream."""
    return f"vexe:{{{_tag(shard)}}}:in:{validator_id}"


def ready(shard: str | None = None) -> str:
    """The set of inbox names with trips waiting, beside ``trips_stream(shard)``."""
    return f"vexe:{{{_tag(shard)}}}:ready"


def heartbeat(validator_id: str, shard: str | None = None) -> str:
    """One validator's heartbeat: a stream of one entry, with a time to live, whose id Redis
    chose (validator.heartbeat). Earlier versions wrote a string at ``...:beat:<id>``.

    A key of its own, so that the validator's Redis user may write its own heartbeat and no
    one else's."""
    return f"vexe:{{{_tag(shard)}}}:beats:{validator_id}"


# Every validator's heartbeat, on one Redis or on any shard of a cluster (SCAN MATCH).
HEARTBEATS = "vexe:{trips*}:beats:*"


def ingest_stall(consumer: str, shard: str | None = None) -> str:
    """An ingest worker's record of failing round after round (JSON, with a time to live),
    beside the stream it reads: ``vexe ingest status`` shows it."""
    return f"vexe:{{{_tag(shard)}}}:ingest-stall:{consumer}"


def switched_off(shard: str | None = None) -> str:
    """The hash of the validators whose Redis user the ingest switched off for flooding their
    inbox (backoffice.inbox.police): validator id -> JSON of what it found and did. ``vexe
    ingest status`` shows it; ``vexe validator acl create --replace`` takes the id off."""
    return f"vexe:{{{_tag(shard)}}}:switched-off"


SWITCHED_OFF = "vexe:{trips*}:switched-off"  # every shard's (SCAN MATCH)


# A route code as the network keeps it (issuer.network.routes.CODE): only such a route has
# stops in Redis, and its key holds no glob character.
ROUTE_CODE = re.compile(r"[0-9A-Z][0-9A-Z-]{0,15}")


def route_stops(route: str) -> str | None:
    """The key of ``route``'s stops; None for a route the network cannot have."""
    if not isinstance(route, str) or not ROUTE_CODE.fullmatch(route):
        return None
    return STOPS_PREFIX + route
