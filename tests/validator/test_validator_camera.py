"""The camera: phone screens photographed as a cheap camera sees them, decoded, decided once.

``pytest -s`` prints the decode rate per condition; bench/bench_camera.py measures the
time from frame to decision and records both in BENCHMARKS.md.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import camera_frames as frames
from shared import clock
from validator.camera import CameraInput, Once, QRFinder
from validator_testkit import NOW

SEEDS = 24
# The share of frames that must decode, per condition: what a rider would accept from a
# reader (a missed frame costs 1/30 s; a missed condition costs a rider). Glare is the hard
# one: the spot wipes out modules beyond what error correction M restores. Heavy blur (a
# radius over half a module) is where reading stops: reported, not required; the reader's
# lens must be focused at the distance a phone is held.
EXPECTED = {"straight": 1.0, "angle": 0.95, "blur": 0.95, "dim": 0.95, "glare": 0.3,
            "cheap camera 320x240": 0.95, "steep angle": 0.7, "heavy blur": 0.0,
            "all at once": 0.9}


@pytest.fixture(scope="module")
def screen():
    """A fixed vexe QR (a golden vector): the same modules every run, so the same rates."""
    qr = frames.golden_qr()
    return qr, frames.phone_screen(qr)


def test_decode_rate_per_condition(screen):
    """Frames and QR are fixed: the rates are the same every run (and in the benchmark)."""
    qr, image = screen
    rates = {}
    for condition in frames.CONDITIONS:
        found = 0
        for seed in range(SEEDS):
            shot = frames.shot(condition, seed)
            text = QRFinder(*shot.camera).find(frames.photograph(image, shot))
            assert text in (None, qr)  # never a wrong text
            found += text == qr
        rates[condition] = found / SEEDS
    print("\n" + "\n".join(f"{name:22} {rate:6.0%}" for name, rate in rates.items()))
    assert set(rates) == set(EXPECTED)
    for condition, rate in rates.items():
        assert rate >= EXPECTED[condition], (condition, rate)


def test_nothing_is_found_in_an_empty_frame():
    assert QRFinder(640, 480).find(frames.blank()) is None


def test_a_qr_outside_the_region_of_interest_is_still_found(screen):
    qr, image = screen
    shot = frames.Shot(qr_fraction=0.4, offset=(0.3, 0.25))
    frame = frames.photograph(image, shot)
    finder = QRFinder(640, 480, roi=(0, 0, 200, 200))
    assert finder.find(frame) == qr


def test_a_frame_of_the_wrong_size_is_an_error():
    with pytest.raises(ValueError, match="a frame is 307200 bytes, got 100"):
        QRFinder(640, 480).find(b"\0" * 100)


def test_once_decides_a_held_qr_once_and_again_after_it_left():
    once = Once(hold=2.0)
    assert once.new("A", 100.0)
    assert not any(once.new("A", 100.0 + t / 30) for t in range(1, 150))  # held 5 s
    assert once.new("B", 105.0)
    assert once.new("A", 108.0)  # away for more than the hold


def test_a_recording_is_read_to_its_end_and_a_partial_last_frame_dropped(tmp_path, screen):
    qr, image = screen
    recording = tmp_path / "frames.raw"
    shots = [frames.photograph(image, frames.shot("straight", seed)) for seed in range(3)]
    recording.write_bytes(frames.blank() + b"".join(shots) + frames.blank()[:1000])
    decided = []
    camera = CameraInput(str(recording), 640, 480, lambda text, at: decided.append(text),
                         clock=lambda: NOW)
    camera.run(threading.Event())
    assert decided == [qr]
    assert (camera.stats.frames, camera.stats.decoded, camera.stats.dropped) == (4, 3, 0)
    assert camera.stats.decided == 1 and camera.stats.last_decision_ms >= 0


def test_the_camera_fifo_of_the_running_validator(tmp_path, issuer):
    """Frames at 30 per second into the camera FIFO: each phone held up is one decision."""
    from test_validator_run import validator_home
    validator_home(tmp_path, issuer, "C1")
    fifo = tmp_path / "camera"
    os.mkfifo(fifo)
    now = clock.now()
    riders = [issuer.rider(now=now), issuer.rider(now=now)]
    qrs = [rider.qr(now) for rider in riders]
    held = [[frames.photograph(frames.phone_screen(qr), frames.shot(condition, seed))
             for seed in range(8) for condition in ("straight", "angle")] for qr in qrs]
    proc = subprocess.Popen(
        [sys.executable, "-m", "validator", "run", "--id", "C1", "--vehicle", "29B-1",
         "--route", "32", "--data-dir", str(tmp_path), "--http-port", "0", "--no-stdin",
         "--camera", str(fifo), "--redis-url", "redis://127.0.0.1:1/0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        with open(fifo, "wb") as camera:
            for sequence in [[frames.blank()] * 10, held[0], [frames.blank()] * 10, held[1],
                             [frames.blank()] * 5]:
                for frame in sequence:
                    camera.write(frame)
                    camera.flush()
                    time.sleep(1 / 30)
        decisions = [json.loads(proc.stdout.readline()) for _ in qrs]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stdout.read() == b""  # nothing decided twice
    finally:
        proc.kill()
        proc.stdout.close()
    assert [d["decision"] for d in decisions] == ["accept", "accept"]
    assert decisions[0]["pass"]["pass_id"] != decisions[1]["pass"]["pass_id"]
