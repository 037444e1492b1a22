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

The device clock can also be stepped while the validator runs: an NTP or GPS correction, a
technician setting it. A step is the device clock moving against the steady clock
(``CLOCK_BOOTTIME``: never stepped, counts suspend), noticed at every reading of the time.
Once Redis has told the time, a step changes nothing scans are judged by: the offset is
corrected by the step, so the time is carried from the last measurement by the steady clock,
which did not jump (whichever of the two device readings was right, the measurement was).
Before any measurement there is nothing to carry, and the device clock is followed. Either
way the time is unconfirmed (``clock_state`` "stepped") until the sync, told at once,
measures it again.
"""

from __future__ import annotations

import logging
import threading
import time

from shared import clock

log = logging.getLogger(__name__)

APPLY_ABOVE = 1.0  # seconds: below this the device clock is good enough
WARN_ABOVE = 5.0  # seconds: a clock this far off needs a technician
MAX_ROUND_TRIP = 2.0  # seconds: a slower answer says too little about the time it was given
STEP_ABOVE = 1.0  # seconds the device clock may move against the steady clock: a step beyond


# Linux's boot-time clock counts a suspend, which the monotonic clock (elsewhere) does not.
_STEADY = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def since_boot() -> float:
    """The steady clock: seconds since boot, never stepped."""
    return time.clock_gettime(_STEADY)


class Clock:
    """The device clock plus the last offset measured against Redis (Redis minus device)."""

    def __init__(self, source=clock.now, steady=since_boot):
        self._source = source
        self._steady = steady
        self._lock = threading.Lock()
        self.measured: float | None = None  # last measured offset, seconds; None after a step
        self.measured_at: float | None = None  # device time of that measurement
        self.applied = 0.0
        self.step: float | None = None  # seconds the device clock stepped since measured
        self._base = source() - steady()  # the device clock against the steady one

    def now(self) -> float:
        with self._lock:
            return self._read() + self.applied

    @property
    def state(self) -> str:
        """"unchecked" before the first measurement, "checked", or "stepped" after a step
        since the last one (the sync measures again at once)."""
        if self.step is not None:
            return "stepped"
        return "unchecked" if self.measured_at is None else "checked"

    def _read(self) -> float:
        """The device clock, noticing a step since the last reading. Under the lock."""
        device = self._source()
        step = device - self._steady() - self._base
        if abs(step) > STEP_ABOVE:
            self._base += step
            self.step = (self.step or 0.0) + step
            if self.measured_at is not None:  # carry the measured time across the step
                self.applied -= step
            self.measured = None
            log.warning("the device clock stepped %+.1f s; %s until Redis tells the time "
                        "again", step, "judging scans by the time carried from the last "
                        "measurement" if self.measured_at is not None else
                        "judging scans by the device clock")
        return device

    def device_now(self) -> float:
        return self._source()

    def measure(self, sent: float, server: float, received: float) -> float | None:
        """Take one measurement: device times before and after a round trip, and the server's
        time in it. Returns the offset, or None when the round trip was too slow to tell."""
        if not 0 <= received - sent <= MAX_ROUND_TRIP:
            return None
        offset = server - (sent + received) / 2
        with self._lock:
            self._read()  # a step before this measurement is in it
            before = self.applied
            self.measured, self.measured_at = offset, received
            self.applied = offset if abs(offset) >= APPLY_ABOVE else 0.0
            self.step = None
        if abs(offset) >= WARN_ABOVE and abs(offset - before) >= APPLY_ABOVE:
            log.warning("this device's clock is %.1f s %s the network's; judging scans by the "
                        "network's time until it is fixed", abs(offset),
                        "behind" if offset > 0 else "ahead of")
        return offset

    def status(self) -> dict:
        return {"clock_offset": None if self.measured is None else round(self.measured, 3),
                "clock_offset_applied": round(self.applied, 3),
                "clock_checked_at": self.measured_at, "clock_state": self.state,
                "clock_step": None if self.step is None else round(self.step, 3)}
