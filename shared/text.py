"""Text that travels: what a validator may journal, push to Redis and the database store.

A route, a stop, a vehicle, a pass id: each is written to SQLite on the bus, sent through
Redis as JSON and stored by the ingest in SQLite or PostgreSQL. PostgreSQL refuses a NUL
in text, and no database, JSON encoder or terminal can encode a lone surrogate (Python's
JSON reader turns ``"\\ud800"`` into one). Control characters are refused with them: they
are never part of a name, and a line end or an escape sequence in a name garbles logs and
screens. Such text is refused where it enters, never found out when it is stored.
"""

from __future__ import annotations

import re

# C0 controls and DEL, C1 controls, and the UTF-16 surrogates (never characters alone).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_NAME = 64  # a route, a stop, a vehicle, a company


def is_safe(text: str) -> bool:
    """True if ``text`` holds no control character and no lone surrogate."""
    return _UNSAFE.search(text) is None


def name_problem(value: object, max_len: int = MAX_NAME) -> str | None:
    """Why ``value`` cannot be a name, as the end of a sentence; None if it can."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        return f"must be a non-empty string of at most {max_len} characters"
    if not is_safe(value):
        return "must not hold control characters or lone surrogates"
    return None
