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

import pytest
import redis

import cluster_faultkit
from issuer.platform import db
from issuer.passes import publish
from backoffice import ingest
from shared import clock, redis_client
from shared.redis_keys import DENYLIST, TRUST_LIST, inbox, trips_stream
from validator.device import Validator
from validator.sync import Syncer, acl_rules, connect, marks_key
from hardening_testkit import VEXE, RedisClusterProcesses, environment
from tests.testkit import ROUTE, Issuer, stream_trips


def two_shards_on_two_masters(cluster: RedisClusterProcesses) -> list[str]:
    return cluster_faultkit.shards_on_distinct_masters(cluster, 2)


def test_the_keys_of_a_shard_share_a_slot_and_shards_spread(cluster):
    client = redis.Redis(host="127.0.0.1", port=cluster.ports[0])
    try:
        slot = client.execute_command("CLUSTER", "KEYSLOT", trips_stream("depot-1"))
        assert client.execute_command("CLUSTER", "KEYSLOT", marks_key("V1", "depot-1")) == slot
        slots = {client.execute_command("CLUSTER", "KEYSLOT", trips_stream(f"depot-{n}"))
                 for n in range(1, 30)}
        assert len(slots) > 20
    finally:
        client.close()


def test_a_fleet_through_a_master_failover(cluster, tmp_path, database_url):
    report = cluster_faultkit.run(cluster, tmp_path, database_url, cluster_faultkit.Plan(
        validators=4, shards=2, failovers=1))
    assert report.masters_killed == 1 and report.scans > 400
    assert all(counts["journaled"] > 50 for counts in report.per_validator.values())


def test_a_validator_user_on_a_cluster_is_kept_to_its_shard(cluster, tmp_path):
    """The ACL is set on every node (a failover must not open or close anything)."""
    issuer = Issuer()
    shards = two_shards_on_two_masters(cluster)
    admin = redis_client.from_url(cluster.url)
    admin.set(TRUST_LIST, issuer.trust.dumps())
    admin.set(DENYLIST, '{"issued_at": 1, "entries": []}')
    stops = ('{"route":"%s","directions":[{"direction":0,"stops":[{"id":"S1","place":"S1",'
             '"name":"Kim Mã","lat":21.03,"lon":105.8}]}]}' % ROUTE)
    admin.set(f"vexe:stops:{ROUTE}", stops)  # in a slot of its own, on either master
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
                        shard=shards[0], clock=device.clock, route=lambda: device.route)
        pulled = syncer.pull_once(clock.now())
        assert (pulled["trust"], pulled["stops"]) == ("changed", "changed")
        assert device.lists.stops(ROUTE).directions[0].stops[0].name == "Kim Mã"
        now = clock.now()
        device.scan(issuer.rider(now=now).qr(now), now)
        assert syncer.push_all(clock.now()) == 1
        assert len(stream_trips(admin, shards[0])) == 1
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
        admin = redis_client.from_url(cluster.url)
        admin.set("vexe:stops:GONE", "{}")  # a route no longer in service, on some master
        stops = publish.publish_network(session, cluster.url)  # every master scanned
    db.dispose(url)
    assert result.ok, result.error
    assert stops.ok and (stops.routes, stops.removed) == (0, 1), stops.error
    try:
        assert admin.get(TRUST_LIST) is not None and admin.get(DENYLIST) is not None
        assert admin.get("vexe:stops:GONE") is None
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


def test_a_flood_on_a_cluster_switches_the_user_off_on_every_node(cluster, tmp_path):
    """The ingest of a shard finds a flood by hand in its shard's slot and switches the
    validator's user off on every node, replicas too (a failover must not switch it on
    again), closing its connections; the inbox is cut to the quota."""
    shards = two_shards_on_two_masters(cluster)
    url = f"sqlite:///{tmp_path / 'vexe.db'}"
    db.migrate(url)
    made = subprocess.run(
        [VEXE, "validator", "acl", "create", "F1", "--shard", shards[0], "--password-file",
         str(tmp_path / "F1.password")], capture_output=True, text=True, timeout=60,
        env=environment(VEXE_REDIS_URL=cluster.url))
    assert made.returncode == 0, made.stderr
    password = (tmp_path / "F1.password").read_text().strip()
    client = connect(cluster.url, username="F1", password=password)
    worker = ingest.Worker(url, ingest.connect(cluster.url), "w1", shard=shards[0],
                           inbox_quota=1000)
    try:
        client.rpush(inbox("F1", shards[0]), *["junk"] * 1500)
        [done] = worker.police(clock.now())
        assert (done.validator, done.user, done.kept) == ("F1", True, 1000)
        assert worker.client.llen(inbox("F1", shards[0])) == 1000
        with pytest.raises(redis.RedisError):
            client.rpush(inbox("F1", shards[0]), "more")
    finally:
        client.close()
        worker.client.close()
        db.dispose(url)
    for port in cluster.ports:
        node = redis.Redis(host="127.0.0.1", port=port)
        try:
            assert "off" in node.acl_getuser("F1")["flags"], port
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(host="127.0.0.1", port=port, username="F1",
                            password=password).ping()
        finally:
            node.close()
