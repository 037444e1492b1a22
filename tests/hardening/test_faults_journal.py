"""A validator's journal damaged on disk, or its WAL file deleted, under the real process.

The damage is real: bytes of a real journal's pages overwritten (a data page of the scans
table, the root page of the pass index, found in sqlite_master), the ``-wal`` file unlinked
while ``vexe validator run`` holds it open. What is checked is what the driver, the rider
and the operator see: the answer to ``POST /scan``, ``/healthz``, the screen's state, the
one line at start-up, and what ``vexe validator journal repair`` leaves.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from shared import clock
from validator.device import JOURNAL_FILE, Validator
from validator.journal import Journal
from hardening_testkit import VEXE, environment, http_json
from tests.testkit import ROUTE, Issuer, free_port, wait_for

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing is pushed: the journal is all there is
ID = "J1"


@pytest.fixture
def issuer():
    return Issuer()


@pytest.fixture
def home(tmp_path, issuer) -> Path:
    """The validator's directory, with a trust list."""
    home = tmp_path / f"validator-{ID}"
    home.mkdir()
    (home / "trust.json").write_text(issuer.trust.dumps())
    return home


class Running:
    """``vexe validator run`` over HTTP, with nothing to push to."""

    def __init__(self, tmp_path: Path, name: str):
        self.port = free_port()
        self.log = tmp_path / f"{name}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [VEXE, "validator", "run", "--id", ID, "--vehicle", "29B-111.11", "--route",
                 ROUTE, "--no-stdin", "--http-port", str(self.port)],
                env=environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=DEAD_REDIS),
                stdout=subprocess.DEVNULL, stderr=log)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(self._up, what="validator HTTP")

    def _up(self) -> bool:
        try:
            return http_json("GET", self.base + "/healthz")[0] in (200, 503)
        except OSError:
            assert self.proc.poll() is None, self.log.read_text()
            return False

    def scan(self, qr: str) -> tuple[int, dict]:
        return http_json("POST", self.base + "/scan", {"qr": qr})

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def fresh_qr(issuer: Issuer) -> str:
    now = clock.now()
    return issuer.rider(now=now).qr(now)


def journal_with_scans(home: Path, issuer: Issuer, count: int) -> None:
    """A journal written by the validator's own code, every scan accepted, then closed."""
    with Validator(validator_id=ID, vehicle="29B-111.11", route=ROUTE, data_dir=home) as device:
        for _ in range(count):
            assert device.scan(fresh_qr(issuer), clock.now()).accepted


def overwrite_root_page(path: Path, table: str) -> None:
    """Garbage over the root page of ``table`` (a table or an index) in the file itself."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # every page in the file
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                          (table,)).fetchone()[0]
    finally:
        db.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page)
        file.write(b"\xa5" * page)
        file.flush()
        os.fsync(file.fileno())


def run_once(tmp_path: Path) -> subprocess.CompletedProcess:
    """``vexe validator run`` with no input but an empty standard input: it starts, pushes
    (nowhere) and ends."""
    return subprocess.run(
        [VEXE, "validator", "run", "--id", ID, "--vehicle", "29B-111.11", "--route", ROUTE,
         "--http-port", "0"], input=b"", capture_output=True, timeout=60,
        env=environment(VEXE_DATA_DIR=str(tmp_path), VEXE_REDIS_URL=DEAD_REDIS))


def repair(tmp_path: Path) -> dict:
    out = subprocess.run([VEXE, "validator", "journal", "repair", "--id", ID, "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def assert_refused_at_start(tmp_path: Path, words: str) -> None:
    """One line naming the problem and the command that repairs it; exit status 2."""
    out = run_once(tmp_path)
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("vexe: ") and words in last, last
    assert f"vexe validator journal repair --id {ID} --data-dir {tmp_path}" in last


class TestDamagedFile:
    def test_a_damaged_data_page_is_one_line_at_start_and_repair_moves_it_aside(
            self, tmp_path, home, issuer):
        journal_with_scans(home, issuer, 300)
        overwrite_root_page(home / JOURNAL_FILE, "scans")
        assert_refused_at_start(tmp_path, "is damaged")

        done = repair(tmp_path)
        assert done["done"] == "moved aside" and done["scans"] == 0
        kept = Path(done["kept_as"])
        assert kept.parent == home and kept.name.startswith("journal.db.damaged-")
        assert kept.stat().st_size > 0  # kept, as it was, for audit
        assert run_once(tmp_path).returncode == 0  # starts on a new journal

    def test_a_damaged_index_at_start_is_rebuilt_keeping_every_scan(self, tmp_path, home,
                                                                    issuer):
        journal_with_scans(home, issuer, 300)
        with Journal(home / JOURNAL_FILE) as journal:
            before, epoch = [t.id for t in journal.trips()], journal.epoch
        overwrite_root_page(home / JOURNAL_FILE, "scans_pass_at")
        assert_refused_at_start(tmp_path, "is damaged")

        done = repair(tmp_path)
        assert done["done"] in ("reindexed", "copied into a new file"), done
        assert done["scans"] == done["unsent"] == 300 and done["epoch"] == epoch
        with Journal(home / JOURNAL_FILE) as journal:
            assert [t.id for t in journal.trips()] == before
        running = Running(tmp_path, "after-repair")
        try:
            status, answer = running.scan(fresh_qr(issuer))
            assert status == 200 and answer["decision"] == "accept", answer
        finally:
            assert running.stop() == 0

    def test_an_index_damaged_while_running_refuses_with_a_reason_and_fails_health(
            self, tmp_path, home, issuer):
        """Before: every scan a 500 (the replay lookup raising) while /healthz said 200."""
        running = Running(tmp_path, "damaged")
        try:
            status, first = running.scan(fresh_qr(issuer))
            assert first["decision"] == "accept"
            overwrite_root_page(home / JOURNAL_FILE, "scans_pass_at")
            # Another connection's write: the validator's next read sees a new WAL and
            # drops what it had cached, as after any write it did not make.
            db = sqlite3.connect(home / JOURNAL_FILE, isolation_level=None)
            db.execute("INSERT INTO probe VALUES (x'00')")
            db.close()

            for _ in range(3):
                status, answer = running.scan(fresh_qr(issuer))
                assert status == 200, answer
                assert answer["decision"] == "refuse" and answer["reason"] == "journal_damaged"
                assert answer["message"]["en"].startswith("Validator records damaged")
                assert answer["trip_id"] is None
            health = http_json("GET", running.base + "/healthz")
            assert health[0] == 503 and health[1]["storage"] == "damaged"
            screen = http_json("GET", running.base + "/kiosk/state")[1]
            assert screen["storage"] == "damaged"
            assert screen["storage_message"]["vi"].startswith("Dữ liệu máy soát vé bị hỏng")
            time.sleep(2.5)  # an upkeep round: a small write works, but proves nothing
            assert running.scan(fresh_qr(issuer))[1]["reason"] == "journal_damaged"
        finally:
            assert running.stop() == 0
        log = running.log.read_text()
        assert "vexe validator journal repair" in log and "Traceback" not in log

        done = repair(tmp_path)
        assert done["scans"] == 1
        with Journal(home / JOURNAL_FILE) as journal:
            assert [t.id for t in journal.trips()] == [first["trip_id"]]

    def test_repair_refuses_while_the_validator_runs(self, tmp_path, home, issuer):
        running = Running(tmp_path, "busy")
        try:
            out = subprocess.run([VEXE, "validator", "journal", "repair", "--id", ID,
                                  "--data-dir", str(tmp_path)], capture_output=True, text=True,
                                 timeout=60)
            assert out.returncode == 2 and "in use by another validator" in out.stderr
            assert running.scan(fresh_qr(issuer))[1]["decision"] == "accept"
        finally:
            assert running.stop() == 0


class TestDeletedWal:
    """Before: 60 scans accepted, the WAL deleted, a SIGKILL, and 0 of 60 on disk; the
    restart made a new empty journal without a word."""

    def _sixty(self, running: Running, issuer) -> set[str]:
        accepted = set()
        for _ in range(60):
            status, answer = running.scan(fresh_qr(issuer))
            assert answer["decision"] == "accept", answer
            accepted.add(answer["trip_id"])
        return accepted

    def test_found_between_scans_and_its_scans_kept(self, tmp_path, home, issuer):
        running = Running(tmp_path, "wal-idle")
        try:
            accepted = self._sixty(running, issuer)
            os.unlink(home / f"{JOURNAL_FILE}-wal")
            wait_for(lambda: "its WAL file was deleted" in running.log.read_text(),
                     what="the upkeep finding the WAL gone")
        finally:
            running.kill()
        with Journal(home / JOURNAL_FILE) as journal:
            assert {t.id for t in journal.trips()} == accepted

    @pytest.mark.parametrize("deleted", [("-wal",), ("-wal", "-shm")])
    def test_found_at_the_next_scan_which_is_then_accepted(self, tmp_path, home, issuer,
                                                           deleted):
        running = Running(tmp_path, "wal-scan")
        try:
            accepted = self._sixty(running, issuer)
            for suffix in deleted:
                os.unlink(home / f"{JOURNAL_FILE}{suffix}")
            status, answer = running.scan(fresh_qr(issuer))
            assert answer["decision"] == "accept", answer
            accepted.add(answer["trip_id"])
        finally:
            running.kill()
        with Journal(home / JOURNAL_FILE) as journal:
            assert {t.id for t in journal.trips()} == accepted

    def test_lost_for_good_is_said_at_the_restart_and_repair_starts_a_new_epoch(
            self, tmp_path, home, issuer):
        running = Running(tmp_path, "wal-lost")
        seen = home / f"{JOURNAL_FILE}.seen"
        try:
            self._sixty(running, issuer)
            wait_for(lambda: seen.exists() and json.loads(seen.read_text())["seq"] == 60,
                     what="journal.db.seen noting the 60 scans")
            old_epoch = json.loads(seen.read_text())["epoch"]
            # Stopped first, so that nothing of it runs between the deletion and the kill.
            running.proc.send_signal(signal.SIGSTOP)
            os.unlink(home / f"{JOURNAL_FILE}-wal")
        finally:
            running.kill()
        assert_refused_at_start(tmp_path, "lost committed scans")

        done = repair(tmp_path)
        assert done["done"] == "new epoch", done
        assert done["epoch"] != old_epoch
        assert run_once(tmp_path).returncode == 0
