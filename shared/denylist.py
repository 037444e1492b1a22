"""The denylist: revoked passes, as the issuer publishes it and validators read it.

    {"issued_at": 1795000000, "entries": [{"pid": "7K3M9QX2TB", "since": 1794990000,
                                           "until": 1795250000}]}

``until`` is when the last credential issued for the pass before its revocation expires;
after it no valid credential for the pass exists and the issuer drops the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Denylist:
    issued_at: int
    entries: dict[str, tuple[int, int]]  # pid -> (since, until)

    def is_revoked(self, pass_id: str) -> bool:
        return pass_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict:
        return {"issued_at": self.issued_at,
                "entries": [{"pid": pid, "since": since, "until": until}
                            for pid, (since, until) in sorted(self.entries.items())]}

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
            entries[entry["pid"]] = (since, until)
        return cls(issued_at, entries)
