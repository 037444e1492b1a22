"""The validator as a running device: its inputs, its sync, its screen, its upkeep.

Threads, each allowed to fail without taking the others down:

- the scanner: one QR text a line, from standard input or a serial device;
- the camera: raw frames from a FIFO (validator.camera);
- the GPS: fixes from a serial NMEA receiver or gpsd, each locating the bus (validator.gps);
- HTTP: the kiosk page, ``POST /scan``, ``/position``, ``/mode``, ``GET /status``, ``/healthz``;
- the sync to Redis (validator.sync);
- upkeep: a WAL file deleted between scans is found, the journal notes what it has committed
  (validator.journal), a full journal tries to make room and recover; the watchdog is
  fed only while the journal can take scans or is being recovered.

Decisions from the scanner and the camera are printed to standard output, one JSON line
each; HTTP callers get theirs in the response.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import termios
import threading
import tty
from typing import TextIO

from shared import clock
from validator.config import Config
from validator.device import STORAGE_OK, DataDirInUse, Scan, Validator
from validator.heartbeat import Heartbeat
from validator.journal import JournalDamaged
from validator.sync import SOCKET_TIMEOUT, Syncer, connect

log = logging.getLogger("validator")

UPKEEP_EVERY = 2.0  # seconds between looks at a full journal, and watchdog pings


class StartError(Exception):
    """The device cannot start; the message is one line for the operator."""


class Decisions:
    """One JSON line per decision on an output stream, lines never interleaved."""

    def __init__(self, out: TextIO):
        self.out = out
        self._lock = threading.Lock()

    def write(self, scan: Scan) -> None:
        line = json.dumps(scan.to_dict(), ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()


def read_scanner(device: Validator, stream, out: TextIO | Decisions) -> None:
    """Decide on each line of ``stream`` (bytes), print one JSON decision a line to ``out``.

    A scanner types the QR text and Enter. Only the line ending is removed: the space is a
    base45 character, and a text is decided on exactly as it was read. Empty lines are not
    scans.
    """
    decisions = out if isinstance(out, Decisions) else Decisions(out)
    for raw in _bounded(stream):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            continue
        decisions.write(device.scan(text, device.clock.now()))


MAX_LINE = 4096  # bytes: a QR text is at most 1000 characters


def _bounded(stream):
    """Lines of at most MAX_LINE bytes (and the line ending) from a file or an iterable.

    A scanner gone wrong, or a person at the serial port, can send megabytes without a line
    ending: a longer line is cut to its first MAX_LINE + 1 bytes (too long to be a QR, so it
    is refused as malformed, and journaled as one scan) and the rest of it is skipped,
    without ever holding it in memory.
    """
    readline = getattr(stream, "readline", None)
    if readline is None:  # already lines, e.g. _lines() below, which bounds its own
        yield from stream
        return
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # the rest of an over-long line
            line += b"\n"
        yield line


def open_serial_scanner(path: str):
    """A scanner on a serial port (USB CDC): raw mode, so the port echoes nothing back."""
    stream = open(path, "rb", buffering=0)
    if os.isatty(stream.fileno()):
        tty.setraw(stream.fileno(), termios.TCSANOW)  # lines are split by _lines, not the tty
    return stream


def _lines(stream):
    """Lines from an unbuffered binary stream (a serial port gives a few bytes at a time)."""
    pending = b""
    skipping = False  # inside a line already cut to MAX_LINE
    while True:
        chunk = stream.read(4096)
        if not chunk:
            if pending:
                yield pending
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if skipping:  # the end of an over-long line
                skipping = False
                continue
            yield line[:MAX_LINE + 1] + b"\n"
        if len(pending) > MAX_LINE and not skipping:
            yield pending[:MAX_LINE + 1] + b"\n"  # too long to be a QR: one refusal
            skipping = True
        if skipping:
            pending = b""


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify, WatchdogSec=) how the service is; False if not under it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
        return False
    return True


class Service:
    """Everything the device runs, started by :meth:`start` and ended by :meth:`stop`."""

    def __init__(self, config: Config, *, out: TextIO = sys.stdout, stdin=None):
        self.config = config
        self.decisions = Decisions(out)
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.server = None
        self.camera = None
        self.gps = None
        try:
            self.client = connect(config.redis_url, username=config.redis_username,
                                  password=config.redis_password)
        except ValueError as exc:
            raise StartError(f"bad Redis URL in {config.source}: {exc}") from None
        home = config.home
        max_bytes = (int(config.journal_max_mb * 1024 * 1024)
                     if config.journal_max_mb is not None else None)
        try:
            self.device = Validator(
                validator_id=config.validator_id, vehicle=config.vehicle, route=config.route,
                stop=config.stop, data_dir=home, freshness=config.freshness,
                passback=config.passback, mode=config.mode, company=config.company,
                journal_max_bytes=max_bytes, max_stop_distance=config.max_stop_distance)
        except JournalDamaged as exc:
            self.client.close()
            where = (f"--id {config.validator_id} --data-dir {config.data_dir}"
                     if config.source == "the command line" else f"--config {config.source}")
            raise StartError(f"{exc}; nothing is accepted on it. Keep the validator stopped "
                             f"and run: vexe validator journal repair {where}") from None
        except (OSError, sqlite3.Error, DataDirInUse) as exc:
            self.client.close()
            reason = getattr(exc, "strerror", None) or exc
            raise StartError(f"cannot use data directory {home}: {reason}") from None
        self.syncer = Syncer(self.device.journal, self.device.lists, self.client,
                             validator_id=config.validator_id,
                             keep=config.retention_days * 86400, clock=self.device.clock,
                             shard=config.redis_shard,
                             heartbeat=Heartbeat(self.device, every=config.heartbeat_seconds),
                             route=lambda: self.device.route)

    # -- starting --------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        if config.http_port:
            self._start_http()
        self._thread("sync", self.syncer.run, self.stopping)
        self._thread("upkeep", self._upkeep)
        if config.camera is not None:
            self._start_camera()
        if config.gps is not None:
            from validator.gps import GpsInput

            self.gps = GpsInput(config.gps, self._gps_fix)
            self._thread("gps", self.gps.run, self.stopping)
        if config.scanner not in ("stdin", "none"):
            self._thread("scanner", self._serial_scanner)
        log.info("validator %s on vehicle %s, route %s, %s: journal in %s, %s scans to push, "
                 "Redis %s%s", config.validator_id, config.vehicle, config.route,
                 self.device.mode, config.home, self.device.backlog(),
                 config.redis_where(),
                 f", HTTP on {config.http_host}:{self.server.port}" if self.server else "")
        if not len(self.device.lists.trust):
            log.warning("no trust list yet: every scan is refused as unknown_key until the "
                        "sync pulls one from Redis")
        sd_notify("READY=1")

    def _thread(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _start_http(self) -> None:
        from werkzeug.serving import make_server

        from validator.http import create_app

        config = self.config
        # Bind here: werkzeug reports a port in use by printing and exiting by itself.
        try:
            listener = socket.create_server((config.http_host, config.http_port))
        except OSError as exc:
            raise StartError(f"cannot serve HTTP on {config.http_host}:{config.http_port}: "
                             f"{exc.strerror or exc}") from None
        with listener:
            self.server = make_server(
                config.http_host, config.http_port,
                create_app(self.device, self.syncer, stop_source=config.stop_source,
                           service=self, host=config.http_host,
                           languages=config.kiosk_languages),
                threaded=True, fd=listener.fileno())
        self._thread("http", self.server.serve_forever)

    def _start_camera(self) -> None:
        from validator.camera import CameraInput

        width, height = self.config.camera_size
        self.camera = CameraInput(self.config.camera, width, height, self._camera_decide,
                                  roi=self.config.camera_roi, clock=clock.now)
        self._thread("camera", self.camera.run, self.stopping)

    def _camera_decide(self, text: str, read_at: float) -> None:
        self.decisions.write(self.device.scan(text, self.device.clock.now()))

    def _gps_fix(self, lat: float, lon: float) -> None:
        from validator.device import NoStops

        try:
            self.device.locate(lat, lon)
        except NoStops as exc:
            if not getattr(self, "_told_no_stops", False):
                log.warning("GPS: %s", exc)
                self._told_no_stops = True

    def _serial_scanner(self) -> None:
        path = self.config.scanner
        while not self.stopping.is_set():
            try:
                with open_serial_scanner(path) as stream:
                    read_scanner(self.device, _lines(stream), self.decisions)
            except OSError as exc:
                log.error("scanner %s: %s; trying again", path, exc.strerror or exc)
            self.stopping.wait(2.0)

    def _upkeep(self) -> None:
        interval = UPKEEP_EVERY
        watchdog = os.environ.get("WATCHDOG_USEC")
        if watchdog and watchdog.isdigit():
            interval = min(interval, int(watchdog) / 1e6 / 3)
        while not self.stopping.wait(interval):
            try:
                self.device.look_after_journal()
                if self.device.storage != STORAGE_OK:
                    self.device.recover_storage(self.device.clock.now())
            except Exception:  # upkeep must outlive any one failure
                log.exception("upkeep failed")
            # A full journal is being worked on here, so the process is alive and useful
            # (it says so on the screen); a hung scan lock would stop this loop and the
            # watchdog restarts the service.
            if self.device._scan_lock.acquire(timeout=interval):
                self.device._scan_lock.release()
                sd_notify("WATCHDOG=1")

    # -- running and stopping --------------------------------------------------------------

    def serve(self) -> None:
        """Read the scanner on standard input if configured, else wait; until stopped."""
        try:
            if self.config.scanner == "stdin":
                read_scanner(self.device, self.stdin, self.decisions)
                if self.server is None and self.camera is None:
                    return  # the end of the only input
            while not self.stopping.wait(3600):
                pass
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        sd_notify("STOPPING=1")
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.stopping.set()
        sync = next(t for t in self.threads if t.name == "sync")
        if sync.is_alive():
            sync.join(timeout=4 * SOCKET_TIMEOUT)
        if not sync.is_alive():
            log.info("stopped; %s scans not yet pushed", self.device.backlog())
            self.device.close()
            self.client.close()

    def health(self, now: float) -> dict:
        """For GET /healthz: healthy while the journal takes scans and the sync thread runs."""
        alive = {t.name: t.is_alive() for t in self.threads}
        ok = self.device.storage == STORAGE_OK and alive.get("sync", False)
        return {"ok": ok, "storage": self.device.storage, "online": self.syncer.online(now),
                "threads": alive}


def run(config: Config) -> None:
    """Run the validator until Ctrl-C, SIGTERM, or the end of its only input."""
    service = Service(config)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            service.start()
        except BaseException:
            service.stopping.set()
            if service.server is not None:
                service.server.server_close()
            service.device.close()
            service.client.close()
            raise
        signal.signal(signal.SIGTERM, _interrupt)
        service.serve()
    finally:
        # Once stopping, a second Ctrl-C must not cut the last push short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if service.threads:
            service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
