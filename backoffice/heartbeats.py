"""The validators' heartbeats, read from Redis for the console's Validators page.

Each validator writes its own key (validator.heartbeat, shared.redis_keys.heartbeat): a
stream of one entry holding a JSON object, with a time to live. The key names the validator,
and only that validator's Redis user may write it, so the key is what says whose heartbeat
it is. The beat's time is its entry's id, which Redis chose (XADD ``*``), never a time in
the JSON: the validator's user could write any JSON, and an entry by hand with an id of its
choosing, but an id is never below the stream's last one, and one ahead of Redis's clock is
shown as unreadable. So no beat says a validator is alive for longer than it beats.

A value that is not what a validator writes (someone wrote garbage, or a key of another
type sits there) is kept as unreadable, with the problem: the page shows it, never fails
on it. Redis away is :class:`Unavailable`; the page then answers from the database alone.
"""

from __future__ import annotations

import json
import math
from typing import Annotated

import msgspec
import redis
from redis.exceptions import RedisClusterException

from shared import redis_client, redis_functions
from shared.redis_keys import HEARTBEATS, SWITCHED_OFF

TIMEOUT = 2.0  # seconds: a console page should not hang on Redis
SCAN_COUNT = 1000
AHEAD_MS = 5000  # a beat dated further ahead of Redis's clock than this is not believed
MAX_TEXT = 64  # characters of a text field shown; a beat is written by a validator's code

# The fields a beat may hold, and the types they must have (None is always allowed: a
# validator of another version may leave one out).
TEXTS = ("validator", "vehicle", "company", "route", "stop", "mode", "storage", "software",
         "journal_epoch")
WHOLE = ("backlog", "oldest_unsent_ms", "storage_free_bytes", "disk_free_bytes",
         "journal_bytes", "journal_max_bytes", "denylist_issued_at", "denylist_entries")
NUMBERS = ("device_time", "clock_offset_s", "clock_checked_at", "trust_fetched_at",
           "denylist_fetched_at", "every_s")


# A beat as validators write it, decoded and checked in one pass of msgspec's C decoder: the
# console reads every validator's beat on every request (6,000 of them), and json.loads with
# the checks below in Python took 17 µs a beat. A beat this turns away is read again by
# _checked, which says what is wrong with it, or keeps it with its long texts cut to
# MAX_TEXT; both hold the same rules (msgspec refuses a number JSON cannot hold, as _number
# does).
_Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None
_Whole = Annotated[int, msgspec.Meta(ge=0)] | None


class _Wire(msgspec.Struct, gc=False):
    validator: _Text = None
    vehicle: _Text = None
    company: _Text = None
    route: _Text = None
    stop: _Text = None
    mode: _Text = None
    storage: _Text = None
    software: _Text = None
    journal_epoch: _Text = None
    backlog: _Whole = None
    oldest_unsent_ms: _Whole = None
    storage_free_bytes: _Whole = None
    disk_free_bytes: _Whole = None
    journal_bytes: _Whole = None
    journal_max_bytes: _Whole = None
    denylist_issued_at: _Whole = None
    denylist_entries: _Whole = None
    device_time: float | None = None
    clock_offset_s: float | None = None
    clock_checked_at: float | None = None
    trust_fetched_at: float | None = None
    denylist_fetched_at: float | None = None
    every_s: float | None = None
    trust_kids: list[Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]] | None = None


_DECODER = msgspec.json.Decoder(_Wire)
# Keys per call of vexe_beats. One command for many beats: a pipeline of 6,000 commands
# spent 70 ms and more in redis-py, per command; one call for a thousand keys is one quick
# answer from Redis.
BEATS_PER_CALL = 1000


class Unavailable(Exception):
    """Redis could not be read; the message is one line for the page."""


def read(redis_url: str) -> dict[str, dict]:
    """Every validator's heartbeat: validator id -> :func:`parse` of its value."""
    return _read(redis_url)[0]


def _read(redis_url: str) -> tuple[dict[str, dict], list[str]]:
    """:func:`read`, and the validators the ingest switched off (backoffice.inbox.police),
    on every shard: they flag the page too."""
    try:
        client = redis_client.from_url(redis_url, socket_timeout=TIMEOUT,
                                       socket_connect_timeout=TIMEOUT)
    except ValueError as exc:
        raise Unavailable(f"bad Redis URL: {exc}") from None
    except (redis.RedisError, RedisClusterException) as exc:  # a cluster is asked at once
        raise Unavailable(f"Redis unreachable: {str(exc).rstrip('.')}") from None
    try:
        keys = sorted(set(client.scan_iter(match=HEARTBEATS, count=SCAN_COUNT)))
        seconds, micros = client.time()
        entries = _last_entries(client, keys)
        off = sorted({name.decode("utf-8", "replace")
                      for key in set(client.scan_iter(match=SWITCHED_OFF, count=SCAN_COUNT))
                      for name in client.hkeys(key)})
    except (redis.RedisError, RedisClusterException) as exc:
        raise Unavailable(f"Redis unreachable: {str(exc).rstrip('.')}") from None
    finally:
        client.close()
    now_ms = seconds * 1000 + micros // 1000
    out: dict[str, dict] = {}
    for key, entry in zip(keys, entries):
        validator = key.decode("utf-8", "replace").rpartition(":beats:")[2]
        if not validator or entry is None:  # no id; or expired between SCAN and the read
            continue
        beat = _entry(entry, validator, now_ms)
        earlier = out.get(validator)
        # The same validator under two shards (it was moved): the latest beat counts.
        if earlier is None or _at(beat) > _at(earlier):
            out[validator] = beat
    return out, off


def _last_entries(client, keys: list[bytes]) -> list:
    """Each key's last entry as [id, beat], None for none, or [None, the error Redis gave
    reading it] (a key of another type): by the function ``vexe_beats``, per hash tag (one
    slot on a cluster), loading the functions first if Redis has none."""
    by_tag: dict[bytes, list[bytes]] = {}
    for key in keys:
        by_tag.setdefault(key.partition(b"{")[2].partition(b"}")[0], []).append(key)
    found = {}
    for group in by_tag.values():
        for n in range(0, len(group), BEATS_PER_CALL):
            chunk = group[n:n + BEATS_PER_CALL]
            found.update(zip(chunk, _beats(client, chunk)))
    return [found[key] for key in keys]


def _beats(client, keys: list[bytes]) -> list:
    try:
        return client.fcall_ro("vexe_beats", len(keys), *keys)
    except redis.ResponseError as exc:
        if not redis_functions.ensure(client, exc):
            raise
    return client.fcall_ro("vexe_beats", len(keys), *keys)


def _entry(entry, validator: str, now_ms: int) -> dict:
    """:func:`parse` of a beat stream's last entry, dated by its id."""
    entry_id, value = entry
    if entry_id is None:
        return {"unreadable": f"Redis could not read it: {value.decode('utf-8', 'replace')}"}
    at_ms = int(entry_id.split(b"-")[0])
    if at_ms > now_ms + AHEAD_MS:
        return {"unreadable": "dated ahead of Redis's clock: not written as beats are"}
    return parse(value, validator, at_ms / 1000)


def read_or_note(redis_url: str) -> tuple[dict[str, dict] | None, dict]:
    """:func:`read`, or None when Redis can't be read; and how it went, for the page and the
    JSON alike: ``{"heartbeats": "read", "switched_off": [validator ids]}`` or
    ``"unavailable"`` with ``heartbeats_error``."""
    try:
        beats, off = _read(redis_url)
        return beats, {"heartbeats": "read", "switched_off": off}
    except Unavailable as exc:
        return None, {"heartbeats": "unavailable", "heartbeats_error": str(exc)}


def _at(beat: dict) -> float:
    return beat["at"] if beat.get("at") is not None else -math.inf


def parse(raw: bytes, validator: str, at: float) -> dict:
    """A beat's JSON as the console uses it, dated ``at`` (Redis's time of it), or
    ``{"unreadable": <problem>}``. A time in the JSON itself is ignored."""
    try:
        beat = _DECODER.decode(raw)
    except msgspec.MsgspecError:
        return _checked(raw, validator, at)
    if beat.validator is not None and beat.validator != validator:
        return {"unreadable": f"it names another validator, {beat.validator!r}"}
    return {"at": at, **msgspec.structs.asdict(beat)}


def _checked(raw, validator: str, at: float) -> dict:
    """:func:`parse` field by field, saying what is wrong."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return {"unreadable": "not JSON"}
    if not isinstance(data, dict):
        return {"unreadable": "not a JSON object"}
    beat = {"at": at}
    for name in TEXTS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            return {"unreadable": f"{name} is not text"}
        beat[name] = value[:MAX_TEXT] if value is not None else None
    for name in WHOLE:
        value = data.get(name)
        if value is not None and not (type(value) is int and value >= 0):
            return {"unreadable": f"{name} is not a whole number"}
        beat[name] = value
    for name in NUMBERS:
        value = data.get(name)
        if value is not None and not _number(value):
            return {"unreadable": f"{name} is not a number"}
        beat[name] = float(value) if value is not None else None
    kids = data.get("trust_kids")
    if kids is not None and not (isinstance(kids, list)
                                 and all(isinstance(k, str) for k in kids)):
        return {"unreadable": "trust_kids is not a list of key ids"}
    beat["trust_kids"] = [k[:MAX_TEXT] for k in kids] if kids is not None else None
    if beat["validator"] is not None and beat["validator"] != validator:
        return {"unreadable": f"it names another validator, {beat['validator']!r}"}
    return beat


def _number(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)
