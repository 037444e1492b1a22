"""The morning peak as a load shape: ramp up to the peak, hold it, ramp down.

Durations and the peak come from the environment so one shape serves a seconds-long smoke
run and an hour-long rehearsal:

    VEXE_PEAK_USERS=200 VEXE_RAMP_S=120 VEXE_HOLD_S=600 python -m loadtests.run riders --peak
"""

from __future__ import annotations

import math
import os

from locust import LoadTestShape


class MorningPeak(LoadTestShape):
    """Linear ramp to ``peak`` users over ``ramp`` s, hold ``hold`` s, ramp down over ``ramp`` s."""

    def __init__(self) -> None:
        super().__init__()
        self.peak = int(os.environ.get("VEXE_PEAK_USERS", "50"))
        self.ramp = float(os.environ.get("VEXE_RAMP_S", "60"))
        self.hold = float(os.environ.get("VEXE_HOLD_S", "300"))

    def users_at(self, t: float) -> int | None:
        if t < self.ramp:
            return max(1, math.ceil(self.peak * t / self.ramp))
        if t < self.ramp + self.hold:
            return self.peak
        if t < 2 * self.ramp + self.hold:
            return max(1, math.ceil(self.peak * (2 * self.ramp + self.hold - t) / self.ramp))
        return None

    def tick(self):
        users = self.users_at(self.get_run_time())
        if users is None:
            return None
        # Spawn fast enough to follow the ramp within a second.
        return users, max(1.0, self.peak / max(self.ramp, 1.0))


def selected() -> type[LoadTestShape] | None:
    """The shape a run asked for (``VEXE_SHAPE=peak``), or None for a fixed user count.

    Locust uses any shape class it finds in a locustfile, so each locustfile binds this
    result to a name: the class when asked for, None otherwise.
    """
    return MorningPeak if os.environ.get("VEXE_SHAPE") == "peak" else None
