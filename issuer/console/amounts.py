"""An amount of đồng as a clerk types it: ``100.000``, ``100,000``, ``100 000``, ``100000``,
``100.000 ₫``, ``100.000đ``, ``100000 VND``, ``100k``.

The đồng has no subunit, so a dot or a comma can only group thousands: a group after one must
be exactly three digits, else the input is refused (``100.5``, ``1,00``) rather than read as
some other amount. ``k`` means thousands and takes a whole number only (``100k``; ``1.5k`` is
refused). A refusal is None: the page asks again, nothing is taken.
"""

from __future__ import annotations

import re

_CURRENCY = re.compile(r"\s*(₫|đ|đồng|dong|vnd|vnđ)\s*$", re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(?:([.,\s])\d{3})(?:\1\d{3})*")
MAX = 100_000_000  # more than any pass costs: a slip of the finger, not a price


def parse(text: str | None) -> int | None:
    """The amount in đồng, or None when it cannot be read as one amount for certain."""
    if not isinstance(text, str):
        return None
    text = _CURRENCY.sub("", text.strip().replace("\u00a0", " ").replace("\u202f", " "))
    text = text.strip()
    factor = 1
    if text[-1:] in ("k", "K"):
        text, factor = text[:-1].strip(), 1000
    if text.isdigit() and text.isascii():
        amount = int(text)
    elif _GROUPED.fullmatch(text) and factor == 1:
        amount = int(re.sub(r"[.,\s]", "", text))
    else:
        return None
    amount *= factor
    return amount if 0 < amount <= MAX else None
