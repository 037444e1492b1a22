"""Creating, updating and deleting a validator's own Redis ACL user, for ``vexe validator acl``.

The password is made here (256 random bits), written to a new file that only its owner may
read, and sent to Redis only as its SHA-256 (``#<hash>``), so it never appears in Redis's
command log or its ACL file in clear. It is shown nowhere else.

The ingest switches off the user of a validator that floods its inbox (``switch_off``,
backoffice.inbox.police); ``create --replace`` gives it a new password and switches it on.

Both create and update also load the Redis functions a validator calls
(shared.redis_functions): a validator's user runs them and no code of its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from shared import redis_client, redis_functions
from shared.redis_keys import switched_off
from validator.sync import acl_rules


class AclError(Exception):
    """The user could not be created or deleted; the message is one line for the operator."""


@dataclass(frozen=True)
class Created:
    rules: str
    saved: bool  # written to Redis's ACL file, so it outlives a restart


def create(redis_url: str, validator_id: str, password_file: Path, *,
           replace: bool = False, shard: str | None = None) -> Created:
    """On a Redis Cluster the user is made on every node, replicas too: a failover must
    neither lock the validator out nor open anything to it."""
    client = _admin(redis_url)
    rules = acl_rules(shard, validator_id)
    try:
        if _exists(client, validator_id) and not replace:
            raise AclError(f"Redis user {validator_id!r} exists already; --replace gives it a "
                           "new password")
        _load_functions(client)
        password = secrets.token_urlsafe(32)
        _write_owner_only(password_file, password)
        digest = hashlib.sha256(password.encode()).hexdigest()
        try:
            # reset: no earlier password, key pattern or command survives a --replace.
            _everywhere(client, "ACL", "SETUSER", validator_id, "reset", "on", f"#{digest}",
                        *rules.split())
        except (redis.RedisError, RedisClusterException) as exc:
            password_file.unlink()
            raise AclError(f"Redis refused the user: {exc}") from None
        # On again with a new password: the ingest's record of switching it off goes.
        client.hdel(switched_off(shard), validator_id)
        return Created(rules, _save(client))
    finally:
        client.close()


def update(redis_url: str, validator_id: str, *, shard: str | None = None,
           switch_on: bool = False) -> Created:
    """Give an existing user today's rules and keep its password: a user made by an earlier
    version (which ran scripts and wrote the trips stream itself) gets the rules of the
    functions and its own inbox with no new password to carry to the bus.
    Its keys, commands and selectors are all set again; whether it is on is left as it is,
    unless ``switch_on``: a user the ingest switched off after a false alarm (its inbox grew
    over the quota while no ingest ran) goes on again with the password the bus holds."""
    client = _admin(redis_url)
    rules = acl_rules(shard, validator_id)
    try:
        if not _exists(client, validator_id):  # SETUSER would make a new, empty user
            raise AclError(f"no Redis user {validator_id!r}; acl create makes one")
        _load_functions(client)
        try:
            # clearselectors: no selector of an earlier version survives; the rules reset
            # the keys, channels and commands themselves.
            _everywhere(client, "ACL", "SETUSER", validator_id, "clearselectors",
                        *rules.split(), *(["on"] if switch_on else []))
        except (redis.RedisError, RedisClusterException) as exc:
            raise AclError(f"Redis refused the rules: {exc}") from None
        if switch_on:
            client.hdel(switched_off(shard), validator_id)
        return Created(rules, _save(client))
    finally:
        client.close()


def switch_off(client, validator_id: str) -> bool:
    """Switch ``validator_id``'s user off and close its connections, on the one Redis or on
    every node of a cluster, through ``client`` (an administrator's, here the ingest's);
    whether there was such a user. Its password and rules stay as they were.

    Raises AclError, or the Redis error of a command that failed."""
    if not _exists(client, validator_id):  # SETUSER would make a new user
        return False
    if _text(client.execute_command("ACL", "WHOAMI")) == validator_id:
        return False  # never the administrator itself, whatever an inbox is named
    _everywhere(client, "ACL", "SETUSER", validator_id, "off")
    # Switched off, a user keeps its open connections (Redis 7): they are closed, and its
    # client's reconnection then fails AUTH.
    _everywhere(client, "CLIENT", "KILL", "USER", validator_id)
    _save(client)
    return True


def delete(redis_url: str, validator_id: str) -> bool:
    client = _admin(redis_url)
    try:
        deleted = _everywhere(client, "ACL", "DELUSER", validator_id)
        if isinstance(deleted, dict):  # a cluster: the count on each node
            deleted = max(deleted.values())
        _save(client)
        return bool(deleted)
    except (redis.RedisError, RedisClusterException) as exc:
        raise AclError(f"Redis refused: {exc}") from None
    finally:
        client.close()


def _admin(redis_url: str) -> redis.Redis | RedisCluster:
    try:
        client = redis_client.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
    except ValueError as exc:
        raise AclError(f"bad Redis URL: {exc}") from None
    except (redis.RedisError, RedisClusterException) as exc:
        raise AclError(f"cannot reach Redis: {exc}") from None
    return client


def _everywhere(client, *command):
    """Run ``command`` on the one Redis, or on every node of a cluster, replicas included
    (the cluster client itself knows only the masters)."""
    if not redis_client.is_cluster(client):
        return client.execute_command(*command)
    settings = client.nodes_manager.connection_kwargs
    credentials = {k: settings[k] for k in ("username", "password") if settings.get(k)}
    answers = {}
    for address in client.cluster_nodes():
        host, _, port = address.rpartition(":")
        node = redis.Redis(host=host, port=int(port), socket_timeout=5,
                           socket_connect_timeout=5, **credentials)
        try:
            answers[address] = node.execute_command(*command)
        finally:
            node.close()
    return answers


def _load_functions(client) -> None:
    try:
        redis_functions.load(client)
    except (redis.RedisError, RedisClusterException) as exc:
        raise AclError(f"Redis refused the functions (FUNCTION LOAD): {exc}") from None


def _exists(client: redis.Redis, user: str) -> bool:
    try:
        return client.execute_command("ACL", "GETUSER", user) is not None
    except redis.RedisError as exc:
        raise AclError(f"Redis refused ACL GETUSER (is this an administrator?): {exc}") from None


def _save(client) -> bool:
    try:
        _everywhere(client, "ACL", "SAVE")
    except redis.ResponseError:  # no aclfile configured: users live in memory only
        return False
    return True


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _write_owner_only(path: Path, password: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AclError(f"{path} exists; a password file is never overwritten") from None
    except OSError as exc:
        raise AclError(f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(password + "\n")
