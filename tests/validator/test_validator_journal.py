"""The journal: durable, ordered, and the history the decision asks about."""

import sqlite3
import threading

import pytest

from shared.trip import ACCEPT, REFUSE, Trip, new_trip_id
from validator.journal import Journal


def trip(n: int, *, pass_id: str | None = "P1", decision: str = ACCEPT, vehicle: str = "BUS1",
         at_ms: int | None = None, proof_at: int | None = None) -> Trip:
    at_ms = at_ms if at_ms is not None else 1_795_000_000_000 + n
    return Trip(id=new_trip_id(at_ms), validator="V1", vehicle=vehicle, route="32", stop=None,
                at_ms=at_ms, decision=decision, reason="ok" if decision == ACCEPT else "expired",
                pass_id=pass_id, product="single" if pass_id else None,
                proof_at=proof_at if proof_at is not None else at_ms // 1000)


def test_recorded_scans_survive_reopening_in_order(tmp_path):
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        epoch = journal.epoch
        trips = [trip(n) for n in range(20)]
        seqs = [journal.record(t) for t in trips]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20

    with Journal(path) as reopened:
        assert reopened.epoch == epoch
        assert reopened.trips() == trips
        assert reopened.unsent(100) == [(seq, t.to_json()) for seq, t in zip(seqs, trips)]
        assert reopened.record(trip(99)) > seqs[-1]


def test_the_journal_file_is_wal_with_full_sync(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_new_journal_has_a_new_epoch(tmp_path):
    with Journal(tmp_path / "a.db") as a, Journal(tmp_path / "b.db") as b:
        assert a.epoch != b.epoch


def test_sequence_numbers_never_go_back_even_after_rows_are_deleted(tmp_path):
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        last = [journal.record(trip(n)) for n in range(3)][-1]
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM scans")
    db.close()
    with Journal(path) as journal:
        assert journal.record(trip(7)) == last + 1


def test_unsent_backlog_and_mark_pushed(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        seqs = [journal.record(trip(n)) for n in range(10)]
        assert journal.backlog() == 10
        assert [seq for seq, _ in journal.unsent(4)] == seqs[:4]
        journal.mark_pushed(seqs[3])
        assert journal.backlog() == 6
        assert [seq for seq, _ in journal.unsent(100)] == seqs[4:]
        journal.mark_pushed(seqs[1])  # a late, smaller acknowledgement changes nothing
        assert journal.pushed_seq == seqs[3]
        journal.mark_pushed(seqs[-1])
        assert journal.unsent(100) == [] and journal.backlog() == 0


def test_trip_ids_are_unique(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        first = trip(1)
        journal.record(first)
        with pytest.raises(sqlite3.IntegrityError):
            journal.record(first)
        assert len(journal) == 1


def test_history_counts_only_accepted_scans(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        journal.record(trip(1, decision=REFUSE, at_ms=1_000_000, proof_at=1000))
        assert not journal.proof_used("P1", 1000)
        assert not journal.accepted_since("P1", "BUS1", 0)

        journal.record(trip(2, at_ms=2_000_000, proof_at=2000))
        assert journal.proof_used("P1", 2000)
        assert not journal.proof_used("P1", 2001)
        assert not journal.proof_used("P2", 2000)
        assert journal.accepted_since("P1", "BUS1", 2_000_000)
        assert not journal.accepted_since("P1", "BUS1", 2_000_001)
        assert not journal.accepted_since("P1", "BUS2", 0)
        assert not journal.accepted_since("P2", "BUS1", 0)


def test_threads_share_one_journal(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        seqs: list[int] = []

        def scanner(base: int) -> None:
            for n in range(100):
                seqs.append(journal.record(trip(base + n, pass_id=f"P{base}")))

        threads = [threading.Thread(target=scanner, args=(base,)) for base in (0, 1000, 2000, 3000)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(seqs)) == 400 == len(journal)


def test_prune_drops_only_old_scans_already_pushed(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        old = [journal.record(trip(n, at_ms=1_000 + n)) for n in range(4)]
        new = journal.record(trip(9, at_ms=9_000))
        journal.mark_pushed(old[1])
        assert journal.prune(before_ms=5_000) == 2  # old[2:] are not in Redis yet
        assert [seq for seq, _ in journal.unsent(10)] == [*old[2:], new]
        journal.mark_pushed(new)
        assert journal.prune(before_ms=5_000) == 2
        assert [t.at_ms for t in journal.trips()] == [9_000]
        assert journal.record(trip(10)) == new + 1
