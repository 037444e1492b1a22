"""One way to open Redis from a URL, whether it names one server or a Redis Cluster.

    redis://HOST:PORT/DB            one server (rediss:// with TLS)
    redis+cluster://HOST:PORT       a Redis Cluster, found from any of its nodes
                                    (rediss+cluster:// with TLS)

The cluster schemes are the ones the ``limits`` library (the issuer's rate limits) reads, so
one URL serves every part.
"""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class Cluster(RedisCluster):
    """A Redis Cluster client whose ``close`` closes its sockets.

    redis-py 8.1's ``RedisCluster.close`` releases each node's client, but those clients do
    not own their connection pools, so the sockets stay open until the garbage collector
    finds them.
    """

    def close(self) -> None:
        super().close()
        manager = getattr(self, "nodes_manager", None)  # __init__ may have failed early
        for node in tuple(manager.nodes_cache.values()) if manager else ():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()


def is_cluster(client) -> bool:
    return isinstance(client, RedisCluster)


def from_url(url: str, **options) -> redis.Redis | RedisCluster:
    """A client for ``url``; ``options`` as redis.Redis takes them. ValueError for a bad URL.

    On a cluster the ``retry`` option is the cluster client's own: it re-reads the topology
    between tries, which is what carries a client across a failover.
    """
    scheme, sep, rest = url.partition("://")
    if scheme not in CLUSTER_SCHEMES:
        return redis.Redis.from_url(url, **options)
    if not sep or not rest:
        raise ValueError(f"not a Redis Cluster URL: {url!r}")
    options.pop("health_check_interval", None)
    return Cluster.from_url(f"{CLUSTER_SCHEMES[scheme]}://{rest}", **options)
