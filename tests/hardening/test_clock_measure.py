"""validator.timekeeping.Clock: what one measurement against Redis's TIME does to the time
scans are judged by. Times are parameters; no clock is read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validator.timekeeping import APPLY_ABOVE, MAX_ROUND_TRIP, Clock

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
                              "clock_checked_at": None}
    assert clock.now() == DEVICE
