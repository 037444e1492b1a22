"""The validator's idea of the time: its own clock, corrected by the offset Redis measured.

A validator's clock can be minutes off (a flat real-time-clock battery, no GPS fix, an NTP
server it cannot reach). With a ±45 s freshness window, a clock three minutes slow would
refuse every rider as ``stale_proof``. Each pull from Redis asks for the server's time
(``TIME``, answered by a host that keeps NTP time) and takes the difference, so proofs are
judged against the network's time, not the bus's. The offset is reported in ``GET /status``
and logged when it is large, so operators get the device fixed.

Redis is trusted here as it already is for the trust list: whoever controls it controls
which keys validators accept. A small offset (under ``APPLY_ABOVE``) is measurement noise
(half a round trip) and is not applied. Until the first pull after a start the offset is
unknown and the device's own clock is used.
"""

from __future__ import annotations

import logging
import threading

from shared import clock

log = logging.getLogger(__name__)

APPLY_ABOVE = 1.0  # seconds: below this the device clock is good enough
WARN_ABOVE = 5.0  # seconds: a clock this far off needs a technician
MAX_ROUND_TRIP = 2.0  # seconds: a slower answer says too little about the time it was given


class Clock:
    """The device clock plus the last offset measured against Redis (Redis minus device)."""

    def __init__(self, source=clock.now):
        self._source = source
        self._lock = threading.Lock()
        self.measured: float | None = None  # last measured offset, seconds
        self.measured_at: float | None = None  # device time of that measurement
        self.applied = 0.0

    def now(self) -> float:
        return self._source() + self.applied

    def device_now(self) -> float:
        return self._source()

    def measure(self, sent: float, server: float, received: float) -> float | None:
        """Take one measurement: device times before and after a round trip, and the server's
        time in it. Returns the offset, or None when the round trip was too slow to tell."""
        if not 0 <= received - sent <= MAX_ROUND_TRIP:
            return None
        offset = server - (sent + received) / 2
        with self._lock:
            before = self.applied
            self.measured, self.measured_at = offset, received
            self.applied = offset if abs(offset) >= APPLY_ABOVE else 0.0
        if abs(offset) >= WARN_ABOVE and abs(offset - before) >= APPLY_ABOVE:
            log.warning("this device's clock is %.1f s %s the network's; judging scans by the "
                        "network's time until it is fixed", abs(offset),
                        "behind" if offset > 0 else "ahead of")
        return offset

    def status(self) -> dict:
        return {"clock_offset": None if self.measured is None else round(self.measured, 3),
                "clock_offset_applied": round(self.applied, 3),
                "clock_checked_at": self.measured_at}
