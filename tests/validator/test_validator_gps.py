"""The GPS readers (validator.gps) on real I/O: NMEA sentences written to a pseudo-terminal
as a serial receiver writes them, and a TCP server speaking gpsd's JSON protocol."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from validator.gps import GpsError, GpsInput, gpsd_fix, nmea_fix, parse_source
from tests.testkit import wait_for


def nmea(body: str) -> bytes:
    """A sentence with its checksum: the XOR of the characters between $ and *."""
    checksum = 0
    for char in body.encode():
        checksum ^= char
    return f"${body}*{checksum:02X}\r\n".encode()


def rmc(lat: float, lon: float, talker: str = "GP", status: str = "A") -> bytes:
    return nmea(f"{talker}RMC,083559.00,{status},{_dm(lat, 2)},{'N' if lat >= 0 else 'S'},"
                f"{_dm(lon, 3)},{'E' if lon >= 0 else 'W'},0.5,90.0,031226,,,A")


def gga(lat: float, lon: float, quality: int = 1) -> bytes:
    return nmea(f"GPGGA,083559.00,{_dm(lat, 2)},N,{_dm(lon, 3)},E,{quality},08,0.9,12.0,M,"
                "-20.0,M,,")


def _dm(value: float, width: int) -> str:
    degrees = int(abs(value))
    return f"{degrees:0{width}d}{(abs(value) - degrees) * 60:08.5f}"


class Fixes:
    def __init__(self):
        self.got: list[tuple[float, float]] = []

    def __call__(self, lat, lon):
        self.got.append((round(lat, 5), round(lon, 5)))


class TestNmeaOnASerialPort:
    def test_fixes_are_read_and_everything_else_is_skipped(self):
        master, slave = os.openpty()
        fixes, stop = Fixes(), threading.Event()
        reader = GpsInput(f"nmea:{os.ttyname(slave)}", fixes)
        thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
        thread.start()
        try:
            good_rmc = rmc(21.0285, 105.8048)
            lines = [
                good_rmc,
                good_rmc[:-5] + b"00\r\n",  # a bad checksum
                rmc(21.0301, 105.8102, status="V"),  # the receiver says: no fix
                gga(21.0333, 105.8150, quality=0),  # no fix either
                b"\x00\xff garbage \x1b[2J\r\n",
                b"$GPRMC" + b",9" * 3000 + b"\r\n",  # a line far too long
                nmea("GPGSV,3,1,11,03,03,111,00"),  # satellites: no position
                gga(21.0333, 105.8150),
                rmc(21.0366, 105.8201, talker="GN"),  # a multi-system receiver
            ]
            for line in lines:
                os.write(master, line)
            wait_for(lambda: len(fixes.got) >= 3, timeout=10, what="three fixes")
            assert fixes.got == [(21.0285, 105.8048), (21.0333, 105.815), (21.0366, 105.8201)]
            assert reader.stats.fixes == 3 and reader.stats.skipped >= 5
        finally:
            stop.set()
            os.close(master)
            os.close(slave)
            thread.join(timeout=5)

    def test_a_device_that_is_not_there_is_tried_again(self, tmp_path):
        fixes, stop = Fixes(), threading.Event()
        reader = GpsInput(f"nmea:{tmp_path / 'ttyUSB9'}", fixes)
        thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
        thread.start()
        wait_for(lambda: reader.stats.errors, timeout=10, what="an error noted")
        assert "No such file" in reader.stats.errors[-1]
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()


class Gpsd:
    """A TCP server speaking gpsd's protocol to each client: VERSION on connect, and after
    ?WATCH the reports it is given; then it closes the connection."""

    def __init__(self, reports: list[bytes]):
        self.reports = reports
        self.watches: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b'{"class":"VERSION","release":"3.25","rev":"3.25",'
                             b'"proto_major":3,"proto_minor":15}\n')
                self.watches.append(conn.recv(1024))
                conn.sendall(b'{"class":"DEVICES","devices":[{"path":"/dev/ttyUSB0"}]}\n'
                             b'{"class":"WATCH","enable":true,"json":true}\n')
                for report in self.reports:
                    conn.sendall(report)

    def close(self):
        self.sock.close()


def tpv(lat, lon, mode=3) -> bytes:
    report = {"class": "TPV", "device": "/dev/ttyUSB0", "mode": mode,
              "time": "2026-12-03T08:35:59.000Z", "lat": lat, "lon": lon}
    return json.dumps(report).encode() + b"\n"


class TestGpsd:
    def test_tpv_reports_with_a_fix_are_fixes(self):
        server = Gpsd([
            tpv(21.0285, 105.8048),
            tpv(21.0301, 105.8102, mode=1),  # no fix yet
            b'{"class":"SKY","satellites":[]}\n',
            b'{"class":"TPV","mode":3,"lat":NaN,"lon":105.8}\n',
            b'{"class":"TPV","mode":3,"lat":"21.03","lon":105.8}\n',
            b"not json at all\n",
            b"[" * 5000 + b"\n",
            tpv(21.0366, 105.8201, mode=2),
        ])
        fixes, stop = Fixes(), threading.Event()
        reader = GpsInput(f"gpsd://127.0.0.1:{server.port}", fixes)
        thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
        thread.start()
        try:
            # The server closes after its reports; the reader connects again and again.
            wait_for(lambda: len(fixes.got) >= 4, timeout=15, what="fixes of two connections")
            assert fixes.got[:4] == [(21.0285, 105.8048), (21.0366, 105.8201)] * 2
            assert server.watches[0] == b'?WATCH={"enable":true,"json":true};\n'
        finally:
            stop.set()
            server.close()
            thread.join(timeout=10)


@pytest.mark.parametrize("source, parsed", [
    ("nmea:/dev/ttyUSB0", ("nmea", "/dev/ttyUSB0")),
    ("gpsd://127.0.0.1:2947", ("gpsd", ("127.0.0.1", 2947))),
    ("gpsd://10.0.0.5", ("gpsd", ("10.0.0.5", 2947))),
])
def test_sources(source, parsed):
    assert parse_source(source) == parsed


@pytest.mark.parametrize("source", ["", "nmea:", "gps:/dev/ttyUSB0", "/dev/ttyUSB0",
                                    "gpsd://h:99999", "nmea:/dev/\x00x", None])
def test_a_bad_source_is_refused(source):
    with pytest.raises(GpsError):
        parse_source(source)


@pytest.mark.parametrize("line", [b"", b"$", b"$GPRMC*00", b"$GPRMC,,,,,,,,,,,*67",
                                  b"\xff" * 90, rmc(0, 0), b"$" + b"\x00" * 80])
def test_no_fix_from_what_is_no_fix(line):
    assert nmea_fix(line) is None


@pytest.mark.parametrize("line", [b"{}", b"null", b'{"class":"TPV","mode":3,"lat":95,"lon":1}',
                                  b'{"class":"TPV","mode":3,"lat":true,"lon":1}',
                                  b'{"class":"TPV","mode":"3","lat":21,"lon":105}', b"\xff"])
def test_no_fix_from_a_report_that_is_none(line):
    assert gpsd_fix(line) is None
