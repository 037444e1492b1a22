"""Trips on a real Redis Cluster while its masters are killed and failed over, counted exactly.

Validators in groups push to their group's shard of the trips stream (each shard a slot of
its own); an ingest worker per shard carries them into the database. Each failover kills
(SIGKILL) the master holding one shard, waits for its replica to take over, then starts the
killed node again, which comes back as the new master's replica.

Used by tests/hardening/test_cluster_trips.py (one failover) and bench/soak_cluster.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from redis.backoff import ExponentialBackoff

from issuer.platform import db
from backoffice import ingest
from shared import clock, redis_client
from shared.redis_keys import TRIPS_GROUP, TRUST_LIST, trips_stream
from shared.trip import Trip
from validator.device import Validator
from validator.sync import Syncer, connect
from hardening_testkit import RedisClusterProcesses
from tests.testkit import ROUTE, Issuer, wait_for


@dataclass
class Plan:
    validators: int = 4
    shards: int = 2
    failovers: int = 1
    settle: float = 2.0  # seconds of work before the first kill and after each failover
    scan_every: float = 0.01


@dataclass
class Report:
    scans: int = 0
    masters_killed: int = 0
    failover_seconds: list = field(default_factory=list)
    in_streams: int = 0
    in_database: int = 0
    written_by_final_worker: int = 0
    lost: int = 0
    duplicated: int = 0
    per_validator: dict = field(default_factory=dict)


def shards_on_distinct_masters(cluster: RedisClusterProcesses, count: int) -> list[str]:
    chosen, masters = [], set()
    for n in range(1, 1000):
        shard = f"depot-{n}"
        master = cluster.master_of(trips_stream(shard))
        if master not in masters:
            chosen.append(shard)
            masters.add(master)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"no {count} shards on {count} masters")


def run(cluster: RedisClusterProcesses, workdir: Path, database_url: str, plan: Plan,
        log=print) -> Report:
    issuer = Issuer()
    shards = shards_on_distinct_masters(cluster, plan.shards)
    admin = redis_client.from_url(cluster.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    db.migrate(database_url)
    stop_scanning, stop_syncing, stop_ingest = (threading.Event() for _ in range(3))
    devices, clients, threads, errors = [], [], [], []
    answers: dict[str, list] = {}
    shard_of: dict[str, str] = {}
    report = Report()

    def guard(target, *args):
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    def spawn(target, *args):
        thread = threading.Thread(target=guard, args=(target, *args), daemon=True)
        thread.start()
        threads.append(thread)

    def scan(device):
        while not stop_scanning.wait(plan.scan_every):
            now = clock.now()
            result = device.scan(issuer.rider(now=now).qr(now), now)
            answers[device.validator_id].append(result.trip.id)

    try:
        for n in range(plan.validators):
            vid, shard = f"C{n + 1}", shards[n % plan.shards]
            device = Validator(validator_id=vid, vehicle=f"29B-{n + 1:03d}.02", route=ROUTE,
                               data_dir=workdir / f"validator-{vid}")
            device.lists.update_trust(issuer.trust.dumps())
            clients.append(connect(cluster.url))
            syncer = Syncer(device.journal, device.lists, clients[-1], validator_id=vid,
                            shard=shard, push_every=0.05, batch_size=200,
                            backoff=ExponentialBackoff(cap=0.5, base=0.05))
            devices.append(device)
            answers[vid], shard_of[vid] = [], shard
            spawn(syncer.run, stop_syncing)
            spawn(scan, device)
        for shard in shards:
            clients.append(ingest.connect(cluster.url))
            worker = ingest.Worker(database_url, clients[-1], f"w-{shard}", shard=shard,
                                   batch=300, claim_idle_ms=1000)
            worker.ensure_group()
            spawn(worker.run, stop_ingest)

        time.sleep(plan.settle)
        for k in range(plan.failovers):
            shard = shards[k % plan.shards]
            victim = cluster.master_of(trips_stream(shard))
            cluster.kill(victim)
            killed_at = time.monotonic()
            wait_for(lambda: cluster.master_of(trips_stream(shard)) != victim
                     and cluster.healthy(), timeout=60, what="failover")
            report.failover_seconds.append(round(time.monotonic() - killed_at, 1))
            time.sleep(plan.settle)  # working on the new master, with no replica
            assert cluster.start_node(victim), f"node {victim} did not start again"  # as a replica
            wait_for(lambda: cluster.healthy() and cluster.replicas_in_sync(), timeout=60,
                     what="cluster whole again")
            report.masters_killed += 1
        time.sleep(plan.settle / 2)
        stop_scanning.set()
        wait_for(lambda: all(d.journal.backlog() == 0 for d in devices), timeout=120,
                 what="every journal pushed")
    finally:
        stop_scanning.set()
        stop_syncing.set()
        stop_ingest.set()
        for thread in threads:
            thread.join(60)
        for client in clients:
            client.close()
    assert not errors, errors

    # Whatever the workers left pending (their own, or the failovers') goes in now.
    for shard in shards:
        heir = ingest.Worker(database_url, ingest.connect(cluster.url), f"heir-{shard}",
                             shard=shard, claim_idle_ms=1)
        claimed = heir.claim()
        if claimed:
            report.written_by_final_worker += heir.handle(claimed, clock.now()).entries
        report.written_by_final_worker += heir.drain(clock.now())
        assert admin.xpending(trips_stream(shard), TRIPS_GROUP)["pending"] == 0
        heir.client.close()

    in_stream = {shard: [Trip.from_json(f[b"trip"]) for _, f in
                         admin.xrange(trips_stream(shard))] for shard in shards}
    admin.close()
    with db.engine(database_url).connect() as conn:
        in_db = Counter(v for (v,) in conn.execute(sa.text("SELECT validator FROM trips")))
    db.dispose(database_url)
    journaled = {}
    for device in devices:
        journaled[device.validator_id] = [t.id for t in device.journal.trips()]
        device.close()

    streamed = Counter(t.id for trips in in_stream.values() for t in trips)
    report.scans = sum(len(a) for a in answers.values())
    report.in_streams = sum(streamed.values())
    report.in_database = sum(in_db.values())
    report.duplicated = sum(n - 1 for n in streamed.values())
    report.lost = sum(len(set(ids) - set(streamed)) for ids in journaled.values())
    for vid, ids in journaled.items():
        report.per_validator[vid] = {
            "shard": shard_of[vid], "answered": len(answers[vid]), "journaled": len(ids),
            "in_stream": sum(t.validator == vid for t in in_stream[shard_of[vid]]),
            "in_database": in_db[vid]}
    log(json.dumps({"plan": vars(plan), **vars(report)}))
    for vid, ids in journaled.items():
        assert answers[vid] == ids, vid  # every answer journaled, in order
        assert [t.id for t in in_stream[shard_of[vid]] if t.validator == vid] == ids, vid
        assert in_db[vid] == len(ids), vid
    assert report.lost == 0 and report.duplicated == 0
    return report
