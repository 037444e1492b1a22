"""validator.timekeeping.Clock: what one measurement against Redis's TIME does to the time
scans are judged by. Times are parameters; no clock is read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validator.timekeeping import APPLY_ABOVE, MAX_ROUND_TRIP, STEP_ABOVE, Clock

DEVICE = 1_795_000_000.0


def fixed(at: float):
    return lambda: at


@given(offset=st.floats(-86400, 86400), trip=st.floats(0, MAX_ROUND_TRIP))
def test_the_offset_is_the_server_time_against_the_middle_of_the_round_trip(offset, trip):
    clock = Clock(fixed(DEVICE))
    measured = clock.measure(DEVICE, DEVICE + trip / 2 + offset, DEVICE + trip)
    assert measured == pytest.approx(offset, abs=1e-6)
    applied = offset if abs(measured) >= APPLY_ABOVE else 0.0
    assert clock.now() == pytest.approx(DEVICE + applied, abs=1e-6)


@pytest.mark.parametrize("offset, applied", [(0.4, 0.0), (-0.9, 0.0), (1.0, 1.0), (-300, -300),
                                             (420, 420)])
def test_noise_under_a_second_is_not_applied(offset, applied):
    clock = Clock(fixed(DEVICE))
    clock.measure(DEVICE, DEVICE + offset, DEVICE)
    assert clock.applied == applied and clock.status()["clock_offset"] == offset


def test_a_slow_or_backwards_round_trip_says_nothing():
    clock = Clock(fixed(DEVICE))
    clock.measure(DEVICE, DEVICE + 300, DEVICE)  # a good one first
    assert clock.measure(DEVICE, DEVICE, DEVICE + MAX_ROUND_TRIP + 0.1) is None
    assert clock.measure(DEVICE, DEVICE, DEVICE - 1) is None
    assert clock.applied == 300  # the good measurement stands


def test_a_clock_set_right_again_drops_the_correction():
    clock = Clock(fixed(DEVICE))
    clock.measure(DEVICE, DEVICE + 300, DEVICE)
    clock.measure(DEVICE, DEVICE + 0.2, DEVICE)
    assert clock.applied == 0.0 and clock.now() == DEVICE


def test_unknown_until_measured():
    clock = Clock(fixed(DEVICE))
    assert clock.status() == {"clock_offset": None, "clock_offset_applied": 0.0,
                              "clock_checked_at": None, "clock_state": "unchecked",
                              "clock_step": None}
    assert clock.now() == DEVICE


class Clocks:
    """A device clock and a steady clock, both set by the test: ``step`` moves the device's
    alone, as NTP stepping it does; ``wait`` moves both."""

    def __init__(self):
        self.device, self.steady = DEVICE, 1000.0

    def wait(self, seconds: float) -> None:
        self.device += seconds
        self.steady += seconds

    def step(self, seconds: float) -> None:
        self.device += seconds

    def clock(self) -> Clock:
        return Clock(lambda: self.device, lambda: self.steady)


@pytest.mark.parametrize("step", [-3600, -STEP_ABOVE * 1.5, STEP_ABOVE * 1.5, 3600])
def test_a_step_after_a_measurement_is_carried_by_the_steady_clock(step):
    clocks = Clocks()
    clock = clocks.clock()
    clock.measure(DEVICE, DEVICE + 300, DEVICE)  # Redis: the device is 300 s slow
    clocks.wait(10)
    clocks.step(step)
    assert clock.now() == pytest.approx(DEVICE + 300 + 10)  # as if nothing had stepped
    assert clock.state == "stepped" and clock.step == pytest.approx(step)
    assert clock.status()["clock_offset"] is None  # unknown until measured again
    clocks.wait(5)
    assert clock.now() == pytest.approx(DEVICE + 300 + 15)
    clock.measure(clocks.device, clocks.device + 300 - step, clocks.device)
    assert clock.state == "checked" and clock.step is None
    assert clock.now() == pytest.approx(DEVICE + 300 + 15)


def test_before_any_measurement_a_step_is_followed():
    """Nothing to carry: the device clock is all there is, before and after."""
    clocks = Clocks()
    clock = clocks.clock()
    clocks.step(-3600)
    assert clock.now() == DEVICE - 3600
    assert clock.state == "stepped" and clock.applied == 0.0


def test_drift_under_the_tolerance_is_not_a_step():
    clocks = Clocks()
    clock = clocks.clock()
    clock.measure(DEVICE, DEVICE, DEVICE)
    clocks.step(STEP_ABOVE * 0.9)
    assert clock.now() == DEVICE + STEP_ABOVE * 0.9 and clock.state == "checked"


def test_two_steps_add_up():
    clocks = Clocks()
    clock = clocks.clock()
    clock.measure(DEVICE, DEVICE, DEVICE)
    clocks.step(-3600)
    clock.now()
    clocks.step(1800)
    assert clock.now() == pytest.approx(DEVICE) and clock.step == pytest.approx(-1800)
