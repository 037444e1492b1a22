"""QR codes from a camera: frames in, each QR shown to the camera decided once.

Frames arrive as raw 8-bit grey pixels, ``width * height`` bytes each, from a FIFO or a
device file. That is what a camera pipeline on the validator can write with no code of ours
in between, for example::

    ffmpeg -f v4l2 -video_size 640x480 -i /dev/video0 -pix_fmt gray -f rawvideo pipe:1 \\
        > /run/vexe/camera

Decoding is zxing-cpp, restricted to QR codes. The region of interest (where the reader's
window guides the phone) is tried first and the whole frame only when it holds nothing:
most frames with a QR are decided from the smaller image. When decoding falls behind the
camera, older frames are dropped: the rider waits for the newest frame, not a queue.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable

import zxingcpp

log = logging.getLogger(__name__)

QR_ONLY = zxingcpp.BarcodeFormat.QRCode
HOLD = 2.0  # seconds a QR must be out of view before the same text is decided again
REOPEN_PAUSE = 0.5  # seconds between attempts to reopen a camera FIFO whose writer left


def default_roi(width: int, height: int) -> tuple[int, int, int, int]:
    """The middle of the frame: three fifths of the width, three quarters of the height."""
    w, h = width * 3 // 5, height * 3 // 4
    return (width - w) // 2, (height - h) // 2, w, h


class QRFinder:
    """Finds the QR text in one grey frame: the region of interest first, then all of it."""

    def __init__(self, width: int, height: int, roi: tuple[int, int, int, int] | None = None):
        self.width, self.height = width, height
        self.roi = roi or default_roi(width, height)
        self.frame_size = width * height

    def find(self, frame: bytes) -> str | None:
        """The text of a QR code in ``frame`` (``width * height`` grey bytes), or None."""
        if len(frame) != self.frame_size:
            raise ValueError(f"a frame is {self.frame_size} bytes, got {len(frame)}")
        x, y, w, h = self.roi
        return self._read(self._crop(frame, x, y, w, h)) or self._read(
            zxingcpp.ImageView(frame, self.width, self.height, zxingcpp.ImageFormat.Lum))

    def _crop(self, frame: bytes, x: int, y: int, w: int, h: int) -> zxingcpp.ImageView:
        start = y * self.width + x
        if len(frame) - start >= h * self.width:  # a strided view, no copy
            return zxingcpp.ImageView(memoryview(frame)[start:], w, h, zxingcpp.ImageFormat.Lum,
                                      row_stride=self.width)
        rows = b"".join(frame[r * self.width + x:r * self.width + x + w] for r in range(y, y + h))
        return zxingcpp.ImageView(rows, w, h, zxingcpp.ImageFormat.Lum)

    @staticmethod
    def _read(image: zxingcpp.ImageView) -> str | None:
        # Phones show dark modules on a light screen: no inverted search, no 90° turns
        # (a QR's finder patterns are found at any angle anyway).
        for barcode in zxingcpp.read_barcodes(image, formats=QR_ONLY, try_rotate=False,
                                              try_invert=False):
            if barcode.valid and barcode.text:
                return barcode.text
        return None


class Once:
    """A text is new once; again only after it has been out of view for ``hold`` seconds.

    A rider holds the phone up for a second or more: thirty frames of one QR are one scan.
    The QR changes every rotation period, so a rider told "show a fresh one" gets a new
    decision as soon as the phone shows it.
    """

    def __init__(self, hold: float = HOLD):
        self.hold = hold
        self._seen: dict[str, float] = {}

    def new(self, text: str, now: float) -> bool:
        last = self._seen.get(text)
        self._seen[text] = now
        if len(self._seen) > 64:  # forget what left the view long ago
            self._seen = {t: at for t, at in self._seen.items() if now - at <= self.hold}
        return last is None or now - last > self.hold


@dataclass
class FrameStats:
    """What the camera input has done, for GET /status and the benchmark."""

    frames: int = 0
    dropped: int = 0  # frames replaced by a newer one before they were looked at
    decoded: int = 0  # frames in which a QR was found
    decided: int = 0  # scans decided (a held QR counts once)
    last_decision_ms: float | None = None  # frame read to decision made, the last scan


class CameraInput:
    """Reads frames from ``path`` and hands each newly seen QR text to ``decide``.

    ``decide(text, frame_time)`` gets the monotonic time the frame was read, so the caller
    can measure frame-to-decision. ``clock`` gives Unix seconds for :class:`Once`.
    """

    def __init__(self, path: str, width: int, height: int, decide: Callable[[str, float], None],
                 *, roi: tuple[int, int, int, int] | None = None, hold: float = HOLD,
                 clock: Callable[[], float] = time.time):
        self.path = path
        self.finder = QRFinder(width, height, roi)
        self.decide = decide
        self.once = Once(hold)
        self.clock = clock
        self.stats = FrameStats()
        self._latest: tuple[bytes, float] | None = None
        self._cond = threading.Condition()
        self._ended = False

    def run(self, stop: threading.Event) -> None:
        """Read and decide until ``stop`` is set or a regular file of frames ends."""
        reader = threading.Thread(target=self._read_loop, args=(stop,), name="camera-read",
                                  daemon=True)
        reader.start()
        while not stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._ended, 0.5)
                latest, self._latest = self._latest, None
                ended = self._ended
                self._cond.notify_all()  # a recording's reader waits for this
            if latest is None:
                if ended:
                    return
                continue
            self._look(*latest)

    def _look(self, frame: bytes, read_at: float) -> None:
        text = self.finder.find(frame)
        if text is None:
            return
        self.stats.decoded += 1
        if self.once.new(text, self.clock()):
            self.stats.decided += 1
            self.decide(text, read_at)
            self.stats.last_decision_ms = round((time.monotonic() - read_at) * 1000, 2)

    def _read_loop(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    stream = open(self.path, "rb", buffering=0)
                except OSError as exc:
                    log.error("cannot open camera %s: %s", self.path, exc.strerror or exc)
                    if stop.wait(5.0):
                        return
                    continue
                live = not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
                with stream:
                    self._frames_from(stream, stop, live)
                if not live:
                    return  # a recorded file: its end is the end
                stop.wait(REOPEN_PAUSE)  # a FIFO whose writer went away: wait for the next
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _frames_from(self, stream: BinaryIO, stop: threading.Event, live: bool) -> None:
        size = self.finder.frame_size
        while not stop.is_set():
            frame = _read_exactly(stream, size)
            if frame is None:
                return
            with self._cond:
                while not live and self._latest is not None and not stop.is_set():
                    self._cond.wait(0.5)  # a recording is looked at frame by frame
                self.stats.frames += 1
                if self._latest is not None:
                    self.stats.dropped += 1
                self._latest = (frame, time.monotonic())
                self._cond.notify_all()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the stream (a partial last frame is dropped)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            return None
        got += n
    return bytes(buffer)
