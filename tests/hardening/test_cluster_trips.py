"""Sync and ingest on a real Redis Cluster (three masters, each with a replica), with a master
killed mid-run and failed over; counted exactly.

Validators in two groups push to their group's shard of the trips stream (each shard a slot
of its own, the two on different masters); an ingest worker per shard carries them into the
database. The master holding one shard is killed with SIGKILL while everyone works; its
replica takes over; the killed node comes back as a replica. No trip is lost (a push counts
only once a replica holds it) and none is counted twice.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter

import pytest
import redis
import sqlalchemy as sa
from redis.backoff import ExponentialBackoff

from issuer import db, publish
from issuer.ridership import ingest
from shared import clock, redis_client
from shared.redis_keys import DENYLIST, TRIPS_GROUP, TRUST_LIST, trips_hwm, trips_stream
from shared.trip import Trip
from validator.device import Validator
from validator.sync import Syncer, acl_rules, connect
from hardening_testkit import ROUTE, VEXE, Issuer, RedisClusterProcesses, environment, \
    wait_for


@pytest.fixture
def cluster(tmp_path):
    nodes = RedisClusterProcesses(tmp_path / "cluster")
    try:
        nodes.create()
        yield nodes
    finally:
        nodes.stop()


def two_shards_on_two_masters(cluster: RedisClusterProcesses) -> list[str]:
    chosen, masters = [], set()
    for n in range(1, 100):
        shard = f"depot-{n}"
        master = cluster.master_of(trips_stream(shard))
        if master not in masters:
            chosen.append(shard)
            masters.add(master)
        if len(chosen) == 2:
            return chosen
    raise AssertionError("no two shards on two masters")


def test_the_keys_of_a_shard_share_a_slot_and_shards_spread(cluster):
    client = redis.Redis(host="127.0.0.1", port=cluster.ports[0])
    try:
        slot = client.execute_command("CLUSTER", "KEYSLOT", trips_stream("depot-1"))
        assert client.execute_command("CLUSTER", "KEYSLOT", trips_hwm("depot-1")) == slot
        slots = {client.execute_command("CLUSTER", "KEYSLOT", trips_stream(f"depot-{n}"))
                 for n in range(1, 30)}
        assert len(slots) > 20
    finally:
        client.close()


def test_a_fleet_through_a_master_failover(cluster, tmp_path, database_url):
    issuer = Issuer()
    shards = two_shards_on_two_masters(cluster)
    admin = redis_client.from_url(cluster.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())

    stop_scanning, stop_syncing, stop_ingest = (threading.Event() for _ in range(3))
    devices, syncers, clients, threads, errors = [], [], [], [], []
    answers: dict[str, list] = {}

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
        while not stop_scanning.wait(0.01):
            now = clock.now()
            result = device.scan(issuer.rider(now=now).qr(now), now)
            answers[device.validator_id].append(result.trip.id)

    db.migrate(database_url)
    for n in range(4):
        shard = shards[n % 2]
        vid = f"C{n + 1}"
        device = Validator(validator_id=vid, vehicle=f"29B-{n + 1:03d}.02", route=ROUTE,
                           data_dir=tmp_path / f"validator-{vid}")
        device.lists.update_trust(issuer.trust.dumps())
        client = connect(cluster.url)
        syncer = Syncer(device.journal, device.lists, client, validator_id=vid, shard=shard,
                        push_every=0.05, batch_size=200,
                        backoff=ExponentialBackoff(cap=0.5, base=0.05))
        devices.append(device)
        syncers.append((shard, syncer))
        clients.append(client)
        answers[vid] = []
    workers = []
    for shard in shards:
        client = ingest.connect(cluster.url)
        clients.append(client)
        worker = ingest.Worker(database_url, client, f"w-{shard}", shard=shard, batch=300,
                               claim_idle_ms=1000)
        worker.ensure_group()
        workers.append(worker)
    try:
        for (_, syncer), device in zip(syncers, devices):
            spawn(syncer.run, stop_syncing)
            spawn(scan, device)
        for worker in workers:
            spawn(worker.run, stop_ingest)

        time.sleep(2.0)
        victim = cluster.master_of(trips_stream(shards[0]))
        cluster.kill(victim)
        killed_at = time.monotonic()
        wait_for(lambda: cluster.master_of(trips_stream(shards[0])) != victim
                 and cluster.healthy(), timeout=30, what="failover")
        failover_seconds = time.monotonic() - killed_at
        time.sleep(2.0)  # scanning and pushing on the new master
        cluster.start_node(victim)  # back, as the new master's replica
        wait_for(cluster.healthy, timeout=30, what="cluster whole again")
        time.sleep(1.0)
        stop_scanning.set()
        wait_for(lambda: all(d.journal.backlog() == 0 for d in devices), timeout=90,
                 what="every journal pushed")
    finally:
        stop_scanning.set()
        stop_syncing.set()
        stop_ingest.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors

    # Whatever the workers left pending (their own, or the failover's) goes in now.
    final = 0
    for shard in shards:
        heir = ingest.Worker(database_url, ingest.connect(cluster.url), f"heir-{shard}",
                             shard=shard, claim_idle_ms=1)
        claimed = heir.claim()
        if claimed:
            final += heir.handle(claimed, clock.now()).entries
        final += heir.drain(clock.now())
        assert admin.xpending(trips_stream(shard), TRIPS_GROUP)["pending"] == 0
        heir.client.close()

    in_stream = {shard: [Trip.from_json(f[b"trip"]) for _, f in
                         admin.xrange(trips_stream(shard))] for shard in shards}
    with db.engine(database_url).connect() as conn:
        in_db = Counter(v for (v,) in conn.execute(sa.text("SELECT validator FROM trips")))
    db.dispose(database_url)
    for client in clients:
        client.close()
    journaled = {}
    for device in devices:
        journaled[device.validator_id] = [t.id for t in device.journal.trips()]
        device.close()
    admin.close()

    scans = sum(len(a) for a in answers.values())
    print(f"\ncluster: {scans} scans by 4 validators on shards {shards}; master {victim} "
          f"killed, failed over in {failover_seconds:.1f} s; final worker wrote {final}; "
          f"in streams {sum(map(len, in_stream.values()))}; in database {sum(in_db.values())}")
    for n, device_id in enumerate(sorted(journaled)):
        shard = shards[n % 2]
        ids = [t.id for t in in_stream[shard] if t.validator == device_id]
        assert answers[device_id] == journaled[device_id]  # every answer journaled
        assert ids == journaled[device_id], device_id  # in Redis once each, in order
        assert in_db[device_id] == len(journaled[device_id]), device_id
    assert all(len(ids) > 100 for ids in journaled.values())


def test_a_validator_user_on_a_cluster_is_kept_to_its_shard(cluster, tmp_path):
    """The ACL is set on every node (a failover must not open or close anything)."""
    issuer = Issuer()
    shards = two_shards_on_two_masters(cluster)
    admin = redis_client.from_url(cluster.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    admin.set(DENYLIST, '{"issued_at": 1, "entries": []}')
    made = subprocess.run(
        [VEXE, "validator", "acl", "create", "C9", "--shard", shards[0], "--password-file",
         str(tmp_path / "C9.password")], capture_output=True, text=True, timeout=60,
        env=environment(VEXE_REDIS_URL=cluster.url))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["rules"] == acl_rules(shards[0], "C9")
    password = (tmp_path / "C9.password").read_text().strip()
    for port in cluster.ports:  # on every node, replicas too
        node = redis.Redis(host="127.0.0.1", port=port)
        assert node.execute_command("ACL", "GETUSER", "C9") is not None
        node.close()
    device = Validator(validator_id="C9", vehicle="29B-009.09", route=ROUTE,
                       data_dir=tmp_path / "validator-C9")
    client = connect(cluster.url, username="C9", password=password)
    try:
        syncer = Syncer(device.journal, device.lists, client, validator_id="C9",
                        shard=shards[0], clock=device.clock)
        assert syncer.pull_once(clock.now())["trust"] == "changed"
        now = clock.now()
        device.scan(issuer.rider(now=now).qr(now), now)
        assert syncer.push_all(clock.now()) == 1
        assert admin.xlen(trips_stream(shards[0])) == 1
        device.scan(issuer.rider(now=now).qr(now), now)
        other = Syncer(device.journal, device.lists, client, validator_id="C9",
                       shard=shards[1])
        with pytest.raises(redis.ResponseError, match="(?i)noperm|no permissions"):
            other.push_once(clock.now())
        assert device.journal.backlog() == 1 and admin.exists(trips_stream(shards[1])) == 0
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.xrange(trips_stream(shards[0]))
    finally:
        client.close()
        admin.close()
        device.close()


def test_the_issuer_publishes_to_a_cluster(cluster, tmp_path):
    """Trust list and denylist in two slots: published without a cross-slot transaction."""
    url = f"sqlite:///{tmp_path / 'vexe.db'}"
    db.migrate(url)
    with db.session(url) as session:
        result = publish.publish(session, cluster.url, now=clock.now())
    db.dispose(url)
    assert result.ok, result.error
    admin = redis_client.from_url(cluster.url)
    try:
        assert admin.get(TRUST_LIST) is not None and admin.get(DENYLIST) is not None
    finally:
        admin.close()


def test_vexe_ingest_run_reads_one_shard(cluster, tmp_path):
    """The worker's command on a cluster URL: ``--shard`` picks the stream; a bad shard name
    is one line."""
    url = f"sqlite:///{tmp_path / 'vexe.db'}"
    db.migrate(url)
    db.dispose(url)
    issuer = Issuer()
    device = Validator(validator_id="S1", vehicle="29B-005.05", route=ROUTE,
                       data_dir=tmp_path / "validator-S1")
    device.lists.update_trust(issuer.trust.dumps())
    client = connect(cluster.url)
    try:
        for _ in range(7):
            now = clock.now()
            device.scan(issuer.rider(now=now).qr(now), now)
        assert Syncer(device.journal, device.lists, client, validator_id="S1",
                      shard="depot-7").push_all(clock.now()) == 7
    finally:
        client.close()
        device.close()
    env = environment(VEXE_REDIS_URL=cluster.url, VEXE_DATABASE_URL=url,
                      VEXE_DATA_DIR=str(tmp_path / "data"))
    other = subprocess.run([VEXE, "ingest", "run", "--once", "--shard", "depot-8"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["entries"] == 0
    mine = subprocess.run([VEXE, "ingest", "run", "--once", "--shard", "depot-7"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout)["entries"] == 7
    status = subprocess.run([VEXE, "ingest", "status", "--shard", "depot-7"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["group"]["pending"] == 0
    bad = subprocess.run([VEXE, "ingest", "run", "--once", "--shard", "a/b"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("vexe: shard 'a/b' must be")
