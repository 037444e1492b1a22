"""Publishing to Redis what validators pull: the trust list and the denylist, and each
route's stops (after a network import, and with ``vexe publish``).

The database is the truth; Redis holds a copy. When Redis is away the change made in the
database stands, the caller is told it was not published, and ``vexe publish`` (or the next
change) publishes it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from sqlalchemy.orm import Session

from issuer.network import stops
from issuer.passes import passes, signing
from shared import redis_client, redis_keys

TIMEOUT = 2.0  # seconds: an operator waiting on a revocation should not wait long


@dataclass(frozen=True)
class Published:
    ok: bool
    trust_keys: int
    denylist_entries: int
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"published": self.ok, "trust_keys": self.trust_keys,
               "denylist_entries": self.denylist_entries}
        if self.error:
            out["error"] = self.error
        return out


def publish(session: Session, redis_url: str, *, now: float) -> Published:
    """SET the trust list and the denylist, both in one transaction."""
    trust = signing.trust_list(session)
    deny = passes.denylist(session, now)
    client = _client(redis_url)
    if isinstance(client, str):
        return Published(False, len(trust), len(deny), client)
    try:
        # On a cluster the two keys live in different slots, which one transaction can't
        # span; each list is read whole on its own, so two writes are enough there.
        with client.pipeline(transaction=not redis_client.is_cluster(client)) as pipe:
            pipe.set(redis_keys.TRUST_LIST, trust.dumps())
            pipe.set(redis_keys.DENYLIST, deny.dumps())
            pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError, RedisClusterException) as exc:
        return Published(False, len(trust), len(deny),
                         f"Redis unreachable: {str(exc).rstrip('.')}")
    except redis.RedisError as exc:  # reached, but refused: a password or ACL to fix
        return Published(False, len(trust), len(deny), f"Redis error: {str(exc).rstrip('.')}")
    finally:
        client.close()
    return Published(True, len(trust), len(deny))


@dataclass(frozen=True)
class NetworkPublished:
    ok: bool
    routes: int  # routes whose stops Redis holds now
    removed: int = 0  # routes gone from service whose stops were taken out of Redis
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"published": self.ok, "routes_with_stops": self.routes,
               "routes_removed": self.removed}
        if self.error:
            out["error"] = self.error
        return out


def publish_network(session: Session, redis_url: str) -> NetworkPublished:
    """SET each route's stops (``vexe:stops:<route>``) and delete those of routes no longer
    in service. Each key is read whole by the validators of its route, so each is written
    in one command; the keys are one per route so that a bus reads only its own."""
    published = stops.by_route(session)
    keys = {redis_keys.route_stops(code): route.dumps() for code, route in published.items()}
    client = _client(redis_url)
    if isinstance(client, str):
        return NetworkPublished(False, len(published), error=client)
    try:
        stale = [key for key in client.scan_iter(match=redis_keys.STOPS, count=1000)
                 if (key.decode() if isinstance(key, bytes) else key) not in keys]
        with client.pipeline(transaction=False) as pipe:
            for key, text in keys.items():
                pipe.set(key, text)
            for key in stale:
                pipe.delete(key)
            pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError, RedisClusterException) as exc:
        return NetworkPublished(False, len(published),
                                error=f"Redis unreachable: {str(exc).rstrip('.')}")
    except redis.RedisError as exc:
        return NetworkPublished(False, len(published),
                                error=f"Redis error: {str(exc).rstrip('.')}")
    finally:
        client.close()
    return NetworkPublished(True, len(published), len(stale))


def _client(redis_url: str):
    """A client for one publication, or why there is none (a str)."""
    try:
        return redis_client.from_url(redis_url, socket_timeout=TIMEOUT,
                                     socket_connect_timeout=TIMEOUT,
                                     retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
    except ValueError as exc:
        return f"bad Redis URL: {exc}"
    except (redis.RedisError, RedisClusterException) as exc:  # a cluster's layout is read now
        return f"Redis unreachable: {str(exc).rstrip('.')}"
