"""Time: one clock function, Hanoi local time, and the calendar month of a monthly pass.

Every time-dependent function in vexe takes ``now`` (Unix seconds) as a parameter; only the
edges of the system call :func:`now`.
"""

import datetime as dt
import time
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> float:
    """The current Unix time in seconds."""
    return time.time()


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-11"`` -> ``(2026, 11)``; ValueError with a clear message otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise ValueError(f"month must look like YYYY-MM, got {text!r}") from None
    return year, month


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """Unix seconds of 00:00 Hanoi time on the 1st of the month and of the next month.

    A November pass is valid from ``start`` (inclusive) to ``end`` (exclusive): 17:00 UTC on
    31 October to 17:00 UTC on 30 November.
    """
    start = dt.datetime(year, month, 1, tzinfo=HANOI)
    nxt = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=HANOI)
    return int(start.timestamp()), int(nxt.timestamp())


def hanoi_month(at: float) -> tuple[int, int]:
    """The (year, month) in Hanoi at Unix time ``at``."""
    local = dt.datetime.fromtimestamp(at, HANOI)
    return local.year, local.month


def iso(at: float) -> str:
    """Unix seconds as an ISO 8601 string in Hanoi time, for people to read."""
    return dt.datetime.fromtimestamp(at, HANOI).isoformat(timespec="seconds")
