"""The bus's GPS, read for its fixes: an NMEA receiver on a serial port, or gpsd.

    nmea:/dev/ttyUSB0            $GPRMC/$GNRMC (status A) and $GPGGA/$GNGGA (quality > 0),
                                 any talker; read with pynmeagps, checksums checked
    gpsd://127.0.0.1:2947        gpsd's JSON: ?WATCH, then its TPV reports (mode 2 or 3)

Each fix goes to a callback (the validator's ``locate``). A sentence with a bad checksum, a
fix the receiver marks void, a line of junk, a report that is not JSON: skipped, and
counted. A device that goes away is opened again, every ``RETRY`` seconds, until stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import termios
import threading
import tty
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pynmeagps import NMEAReader
from pynmeagps.exceptions import NMEAMessageError, NMEAParseError, NMEATypeError

log = logging.getLogger(__name__)

GPSD_PORT = 2947
MAX_LINE = 4096  # an NMEA sentence is at most 82 characters; a gpsd report some kilobytes
RETRY = 2.0  # seconds before a device or gpsd gone away is tried again
TIMEOUT = 5.0  # seconds without a line from gpsd before the connection is made again
WATCH = b'?WATCH={"enable":true,"json":true};\n'


class GpsError(ValueError):
    """The GPS source is not one this reader knows; the message is one line."""


@dataclass
class Stats:
    fixes: int = 0
    skipped: int = 0  # lines that were no usable fix: bad checksums, void fixes, junk
    errors: list[str] = field(default_factory=list)  # the last few I/O errors


def parse_source(source: str) -> tuple[str, str | tuple[str, int]]:
    """("nmea", device path) or ("gpsd", (host, port)); GpsError if neither."""
    if not isinstance(source, str) or not source or len(source) > 4096 or "\x00" in source:
        raise GpsError("must be nmea:DEVICE or gpsd://HOST:PORT")
    if source.startswith("nmea:"):
        path = source[len("nmea:"):]
        if not path:
            raise GpsError("nmea: needs a device, e.g. nmea:/dev/ttyUSB0")
        return "nmea", path
    if source.startswith("gpsd:"):
        try:
            parts = urlsplit(source)
            port = parts.port or GPSD_PORT
        except ValueError:
            raise GpsError("gpsd://HOST:PORT has a bad port") from None
        return "gpsd", (parts.hostname or "127.0.0.1", port)
    raise GpsError(f"must be nmea:DEVICE or gpsd://HOST:PORT, got {source[:80]!r}")


def usable(lat, lon) -> bool:
    """True for a finite latitude and longitude in range (a receiver may say anything)."""
    return (type(lat) in (int, float) and type(lon) in (int, float)
            and math.isfinite(lat) and math.isfinite(lon)
            and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0, 0))


def nmea_fix(line: bytes) -> tuple[float, float] | None:
    """The fix in one NMEA sentence, or None: not RMC or GGA, void, or not valid NMEA."""
    line = line.strip()
    if not line.startswith(b"$") or len(line) > 100:
        return None
    try:
        message = NMEAReader.parse(line + b"\r\n", validate=1)  # 1: the checksum
    except (NMEAParseError, NMEAMessageError, NMEATypeError, ValueError, UnicodeDecodeError):
        return None
    if message is None:
        return None
    kind = message.msgID
    if kind == "RMC" and getattr(message, "status", "") != "A":
        return None
    if kind == "GGA" and not getattr(message, "quality", 0):
        return None
    if kind not in ("RMC", "GGA"):
        return None
    lat, lon = getattr(message, "lat", ""), getattr(message, "lon", "")
    return (float(lat), float(lon)) if usable(lat, lon) else None


def gpsd_fix(line: bytes) -> tuple[float, float] | None:
    """The fix in one gpsd report, or None: not a TPV with a 2D or 3D fix."""
    try:
        report = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(report, dict) or report.get("class") != "TPV":
        return None
    if report.get("mode") not in (2, 3):
        return None
    lat, lon = report.get("lat"), report.get("lon")
    return (float(lat), float(lon)) if usable(lat, lon) else None


class GpsInput:
    """Reads ``source`` until stopped and calls ``on_fix(lat, lon)`` for each fix."""

    def __init__(self, source: str, on_fix):
        self.kind, self.where = parse_source(source)
        self.on_fix = on_fix
        self.stats = Stats()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.kind == "nmea":
                    self._read_nmea(stop)
                else:
                    self._read_gpsd(stop)
            except OSError as exc:
                self._failed(f"{self.kind} {self.where}: {exc.strerror or exc}")
            stop.wait(RETRY)

    def _failed(self, message: str) -> None:
        if not self.stats.errors or self.stats.errors[-1] != message:
            log.warning("GPS: %s; trying again", message)
        self.stats.errors = (self.stats.errors + [message])[-5:]

    def _take(self, fix) -> None:
        if fix is None:
            self.stats.skipped += 1
            return
        self.stats.fixes += 1
        try:
            self.on_fix(*fix)
        except Exception as exc:  # a fix the validator cannot use never stops the reader
            log.debug("GPS fix not used: %s", exc)

    def _read_nmea(self, stop: threading.Event) -> None:
        fd = os.open(self.where, os.O_RDONLY | os.O_NOCTTY)
        with os.fdopen(fd, "rb", buffering=0) as stream:
            if os.isatty(fd):
                tty.setraw(fd, termios.TCSANOW)  # no echo, no line editing by the tty
            for line in _lines(stream.read, stop):
                self._take(nmea_fix(line))

    def _read_gpsd(self, stop: threading.Event) -> None:
        with socket.create_connection(self.where, timeout=TIMEOUT) as sock:
            sock.sendall(WATCH)
            for line in _lines(sock.recv, stop):
                self._take(gpsd_fix(line))


def _lines(read, stop: threading.Event):
    """Lines of at most MAX_LINE bytes from ``read`` (a file's or a socket's), until the
    source ends or ``stop`` is set; a longer line is dropped whole."""
    pending = b""
    dropping = False
    while not stop.is_set():
        chunk = read(4096)
        if not chunk:
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if dropping:
                dropping = False
            elif len(line) <= MAX_LINE:
                yield line
        if len(pending) > MAX_LINE:
            pending, dropping = b"", True
