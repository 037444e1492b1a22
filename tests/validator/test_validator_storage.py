"""A full disk and a journal that must not grow forever: refused, never lost, recovered.

The full disk is real: a journal size cap that SQLite enforces (``PRAGMA max_page_count``),
and a small tmpfs filled to the last byte under a running validator process.
"""

import json
import os
import subprocess
import sys
import threading
import urllib.request

import pytest

from shared import clock
from validator.journal import Journal
from validator.sync import Syncer, connect
from validator_testkit import NOW, http_client, publish_trust
from tests.testkit import stream_trips, wait_for


def fill_until_refused(validator, issuer, now, limit=5000):
    """Scan new passes until the journal refuses one; the accepted scans and the refusal."""
    accepted = []
    for n in range(limit):
        scan = validator.scan(issuer.rider(now=now).qr(now), now + n * 0.001)
        if scan.reason != "ok":
            return accepted, scan
        accepted.append(scan)
    raise AssertionError("the journal never filled")


class TestCappedJournal:
    def test_a_full_journal_refuses_and_keeps_everything_it_accepted(self, make_validator,
                                                                     issuer):
        validator = make_validator(journal_max_bytes=96 * 1024)
        client = http_client(validator)
        accepted, refused = fill_until_refused(validator, issuer, NOW)
        assert len(accepted) > 10
        assert (refused.reason, refused.trip, refused.to_dict()["decision"]) == (
            "storage_full", None, "refuse")
        assert refused.to_dict()["message"]["en"].startswith("Validator storage full")
        # Every scan that was answered "accepted" is on disk, in order; the refusal is not.
        with Journal(validator.data_dir / "journal.db") as other:
            assert [t.id for t in other.trips()] == [s.trip.id for s in accepted]
        # The screen, the status and the health check all say so.
        assert client.get("/status").get_json()["storage"] == "full"
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["storage"] == "full"
        assert client.get("/kiosk/state").get_json()["storage"] == "full"
        # Through HTTP too: a refusal with its reason, not a 500.
        body = client.post("/scan", json={"qr": issuer.rider(now=NOW).qr(NOW)}).get_json()
        assert body["reason"] == "storage_full" and body["trip_id"] is None

    def test_it_recovers_on_its_own_once_the_scans_are_in_redis(self, make_validator, issuer,
                                                              redis_url, redis_client):
        """Pushed scans older than replay and passback need are given up to take riders."""
        validator = make_validator(journal_max_bytes=96 * 1024, passback=600)
        accepted, _ = fill_until_refused(validator, issuer, NOW)
        assert validator.recover_storage(NOW + 1) is False  # nothing pushed: nothing to drop
        syncer = Syncer(validator.journal, validator.lists, connect(redis_url),
                        validator_id="V1")
        syncer.push_all(NOW + 1)
        assert len(stream_trips(redis_client)) == len(accepted)
        later = NOW + 3600
        assert validator.recover_storage(later) is True
        assert validator.storage == "ok"
        assert validator.scan(issuer.rider(now=later).qr(later), later).reason == "ok"
        syncer.client.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, unmounted after the test; skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path):
    """Write zeros to ``path`` until the file system says it is full."""
    with open(path, "wb", buffering=0) as out:
        block = b"\0" * 4096
        try:
            while out.write(block):
                pass
        except OSError:
            pass
        try:
            os.fsync(out.fileno())
        except OSError:
            pass


def test_a_full_disk_under_the_running_process(small_disk, tmp_path, issuer, redis_url,
                                               redis_client):
    from test_validator_run import free_port, validator_home
    home = validator_home(small_disk, issuer, "D1")
    assert home.parent == small_disk
    publish_trust(redis_client, issuer)
    port = free_port()
    env = {**os.environ, "VEXE_REDIS_URL": redis_url}
    log = open(tmp_path / "d1.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "validator", "run", "--id", "D1", "--vehicle", "29B-1",
         "--route", "32", "--data-dir", str(small_disk), "--http-port", str(port), "--no-stdin"],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(base + "/healthz"), timeout=20)
        fill(small_disk / "ballast")
        answers = []
        for _ in range(300):
            now = clock.now()
            answers.append(_post(base + "/scan", {"qr": issuer.rider(now=now).qr(now)}))
            if answers[-1]["reason"] != "ok":
                break
        assert answers[-1]["reason"] == "storage_full", answers[-1]
        assert json.loads(_get(base + "/kiosk/state"))["storage"] == "full"
        assert _status(base + "/healthz") == 503
        # Room again (the ballast goes): the validator finds out by itself and takes riders.
        (small_disk / "ballast").unlink()
        wait_for(lambda: _status(base + "/healthz") == 200, timeout=20)
        now = clock.now()
        assert _post(base + "/scan", {"qr": issuer.rider(now=now).qr(now)})["reason"] == "ok"
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        log.close()
    accepted = [a["trip_id"] for a in answers if a["reason"] == "ok"]
    with Journal(home / "journal.db") as journal:
        journaled = [t.id for t in journal.trips()]
    assert journaled[:len(accepted)] == accepted and len(journaled) == len(accepted) + 1
    assert None not in journaled


class TestRotation:
    def test_prune_gives_the_space_back(self, make_validator, issuer, tmp_path):
        validator = make_validator(passback=0)
        for n in range(1500):
            validator.scan(issuer.rider(now=NOW).qr(NOW), NOW + n * 0.01)
        journal = validator.journal
        full_size = journal.size()
        journal.mark_pushed(10**9)
        assert journal.prune(int((NOW + 10) * 1000)) == 1000
        assert journal.size() < full_size * 0.5
        assert os.path.getsize(validator.data_dir / "journal.db-wal") <= 1024 * 1024
        assert len(journal) == 500

    def test_unsent_scans_are_never_pruned(self, make_validator, issuer):
        validator = make_validator(passback=0)
        for n in range(50):
            validator.scan("junk", NOW + n)
        validator.journal.mark_pushed(20)
        assert validator.journal.prune(int((NOW + 10**6) * 1000)) == 20
        assert validator.journal.backlog() == 30 and len(validator.journal) == 30

    def test_the_sync_loop_rotates_the_journal(self, make_validator, issuer, redis_url,
                                              redis_client):
        """Pushed scans past retention leave the journal while the validator runs."""
        validator = make_validator(passback=0)
        now = clock.now()
        old = [validator.scan("junk", now - 40 * 86400 + n) for n in range(5)]
        recent = validator.scan("junk", now - 3600)
        syncer = Syncer(validator.journal, validator.lists, connect(redis_url),
                        validator_id="V1", push_every=0.05, keep=30 * 86400)
        stop = threading.Event()
        thread = threading.Thread(target=syncer.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(validator.journal) == 1)
        finally:
            stop.set()
            thread.join(10)
            syncer.client.close()
        assert [t.id for t in validator.journal.trips()] == [recent.trip.id]
        assert len(stream_trips(redis_client)) == len(old) + 1

    def test_an_old_journal_is_upgraded_in_place(self, tmp_path):
        """A journal from before modes and incremental vacuum keeps its scans and seq."""
        import sqlite3
        path = tmp_path / "journal.db"
        db = sqlite3.connect(path)
        db.executescript("""
            CREATE TABLE scans (seq INTEGER PRIMARY KEY AUTOINCREMENT, trip_id TEXT NOT NULL
              UNIQUE, pass_id TEXT, proof_at INTEGER, vehicle TEXT NOT NULL, decision TEXT NOT
              NULL, at_ms INTEGER NOT NULL, payload TEXT NOT NULL);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('epoch', 'e1'), ('pushed_seq', '0');
            INSERT INTO scans VALUES (7, 't7', 'P1', 1, 'B1', 'accept', 1000, '{}');
        """)
        db.commit()
        db.close()
        with Journal(path) as journal:
            assert journal.epoch == "e1" and journal.accepted_since("P1", "B1", 0)
            assert journal._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "X-Vexe-Client": "test"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
