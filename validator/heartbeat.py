"""The validator's heartbeat: how it is, written to Redis after its sync rounds.

Trips tell the operators about a validator only when someone boards: a bus parked at night
says nothing. So, every ``every`` seconds, after a sync round, the sync writes one JSON value
to the validator's own key (``shared.redis_keys.heartbeat``), with a time to live: where the
validator is, what it has not yet pushed and since when, which lists it holds, its free
storage, its clock. The console reads the heartbeats beside the trips.

The beat is dated by Redis, not by the bus: it is the one entry of the validator's own beat
stream, added by the function ``vexe_beat`` (shared.redis_functions) with an id Redis
chooses, and that id's time is the beat's time (backoffice.heartbeats). A bus whose
clock is wrong must not look alive, or long dead. The validator's Redis user may write its
own heartbeat key and no other (validator.sync.acl_rules), so no validator can pass for
another; what it could write there by hand is no more alive than a beat (the reader refuses
a time in the future).

A heartbeat that fails is logged and forgotten: it never stops scanning or the sync.
"""

from __future__ import annotations

import importlib.metadata
import json
import os

from validator.device import Validator

BEAT_EVERY = 30.0  # seconds between beats: a few hundred bytes, over a mobile link
TTL = 3 * 86400  # seconds a beat stays in Redis: a validator off for longer drops out of it


def software_version() -> str:
    try:
        return importlib.metadata.version("vexe")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


def free_bytes(path: str | os.PathLike) -> int | None:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


class Heartbeat:
    """What one validator says of itself in each beat."""

    def __init__(self, device: Validator, *, every: float = BEAT_EVERY, ttl: int = TTL,
                 software: str | None = None):
        if not every > 0 or not 0 < ttl:
            raise ValueError("a heartbeat needs a positive period and time to live")
        self.device = device
        self.every = every
        self.ttl = int(ttl)
        self.software = software or software_version()

    def fields(self, *, fetched_at: dict[str, float | None]) -> dict:
        """The beat, without its time (Redis adds that). ``fetched_at``: when the sync last
        read each list from Redis and found it good."""
        device = self.device
        journal, lists = device.journal, device.lists
        backlog, oldest = journal.unsent_summary()
        clock = device.clock
        size, disk = journal.size(), free_bytes(device.data_dir)
        # The room the journal really has: its file system's, or what its cap leaves.
        room = disk
        if journal.max_bytes is not None:
            left = max(0, journal.max_bytes - size)
            room = left if room is None else min(room, left)
        return {
            "validator": device.validator_id, "vehicle": device.vehicle,
            "company": device.company, "route": device.route, "stop": device.stop,
            "mode": device.mode,
            # The device's own clock at the beat, and its offset from Redis's TIME as last
            # measured (Redis minus device; None until the first measurement).
            "device_time": round(clock.device_now(), 3),
            # (+ 0.0: a rounded -0.0004 would read "-0.0")
            "clock_offset_s": None if clock.measured is None else round(clock.measured, 3) + 0.0,
            "clock_checked_at": clock.measured_at,
            "backlog": backlog, "oldest_unsent_ms": oldest,
            "trust_kids": sorted(key["kid"] for key in lists.trust.to_jwks()["keys"]),
            "trust_fetched_at": fetched_at.get("trust"),
            "denylist_issued_at": lists.denylist.issued_at,
            "denylist_entries": len(lists.denylist),
            "denylist_fetched_at": fetched_at.get("denylist"),
            "storage": device.storage,
            "storage_free_bytes": room, "disk_free_bytes": disk,
            "journal_bytes": size, "journal_max_bytes": journal.max_bytes,
            "journal_epoch": journal.epoch,
            "software": self.software,
            "every_s": self.every,
        }

    def text(self, *, fetched_at: dict[str, float | None]) -> str:
        return json.dumps(self.fields(fetched_at=fetched_at), separators=(",", ":"),
                          ensure_ascii=False)
