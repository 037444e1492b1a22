"""The denylist: what validators must refuse before a credential expires on its own.

    {"issued_at": 1795000000, "entries": [
        {"pid": "7K3M9QX2TB", "since": 1794990000, "until": 1795250000},
        {"pid": "Q4M8ZK2N1D", "since": 1794995000, "until": 1795240000,
         "device": "A4Z4GEd51zljFGEUnEnwQejwxw6zGEO7qVuUONiNY-MO"}]}

An entry without ``device`` revokes the pass. An entry with ``device`` says the pass moved
to another phone: only credentials binding that device key (a base64url compressed P-256
point, as in the credential's ``cnf.dpk``) are accepted. ``until`` is when the last
credential issued before the entry expires; after it the issuer drops the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

REVOKED = "revoked"
DEVICE_REPLACED = "device_replaced"


@dataclass(frozen=True)
class DenyEntry:
    since: int
    until: int
    device: str | None = None  # None: the whole pass is revoked


@dataclass(frozen=True)
class Denylist:
    issued_at: int
    entries: dict[str, DenyEntry]  # pid -> entry

    def refusal(self, pass_id: str, device_key: str) -> str | None:
        """The reason code to refuse a credential for ``pass_id`` binding ``device_key``."""
        entry = self.entries.get(pass_id)
        if entry is None:
            return None
        if entry.device is None:
            return REVOKED
        return None if entry.device == device_key else DEVICE_REPLACED

    def is_revoked(self, pass_id: str) -> bool:
        entry = self.entries.get(pass_id)
        return entry is not None and entry.device is None

    def __len__(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict:
        out = []
        for pid, entry in sorted(self.entries.items()):
            item = {"pid": pid, "since": entry.since, "until": entry.until}
            if entry.device is not None:
                item["device"] = entry.device
            out.append(item)
        return {"issued_at": self.issued_at, "entries": out}

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def empty(cls) -> "Denylist":
        return cls(0, {})

    @classmethod
    def loads(cls, text: str | bytes) -> "Denylist":
        """Parse a denylist; ValueError naming the problem for anything else."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("denylist is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise ValueError('denylist must be an object with an "entries" list')
        issued_at = data.get("issued_at", 0)
        if type(issued_at) is not int:
            raise ValueError("denylist issued_at must be an integer")
        entries = {}
        for entry in data["entries"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("pid"), str):
                raise ValueError("denylist entry without a pid")
            since, until = entry.get("since", 0), entry.get("until", 0)
            if type(since) is not int or type(until) is not int:
                raise ValueError("denylist entry times must be integers")
            device = entry.get("device")
            if device is not None and not isinstance(device, str):
                raise ValueError("denylist entry device must be a string")
            entries[entry["pid"]] = DenyEntry(since, until, device)
        return cls(issued_at, entries)
