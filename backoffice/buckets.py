"""Hours and days of Hanoi time, as the rollups key them.

Hanoi keeps UTC+7 all year (no daylight saving since 1975), so a day is a fixed offset from
UTC and bucketing is integer arithmetic that SQL and Python agree on.
"""

from __future__ import annotations

import datetime as dt

from shared import clock

OFFSET = 7 * 3600  # Asia/Ho_Chi_Minh
HOUR = 3600
DAY = 86400


def hour_of(at_ms: int) -> int:
    """Unix seconds of the start of the hour holding ``at_ms``."""
    return at_ms // 1000 // HOUR * HOUR


def day_of(at_ms: int) -> int:
    """Unix seconds of 00:00 Hanoi time on the day holding ``at_ms``."""
    return (at_ms // 1000 + OFFSET) // DAY * DAY - OFFSET


def day_start(date: dt.date) -> int:
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=clock.HANOI).timestamp())


def date_of(day: int) -> dt.date:
    return dt.datetime.fromtimestamp(day, clock.HANOI).date()


def today(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, clock.HANOI).date()


def parse_date(text: str) -> dt.date:
    """``"2026-11-23"``; ValueError with a clear message otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"a date must look like YYYY-MM-DD, got {text!r}") from None
