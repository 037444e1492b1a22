"""Heartbeats on a real Redis Cluster: each validator's in its shard's slot, written as its own
ACL user, and the console finds them on every master."""

from __future__ import annotations

import pytest
import redis

import cluster_faultkit
from backoffice import heartbeats
from shared import redis_client
from shared.redis_keys import heartbeat, trips_stream
from validator import acl
from validator.device import Validator
from validator.heartbeat import Heartbeat
from validator.sync import Syncer, connect
from tests.testkit import ROUTE, beat_of


def test_heartbeats_on_two_shards(cluster, tmp_path):
    shards = cluster_faultkit.shards_on_distinct_masters(cluster, 2)
    admin = redis_client.from_url(cluster.url)
    devices, clients = [], []
    try:
        probe = redis.Redis(host="127.0.0.1", port=cluster.ports[0])
        for n, shard in enumerate(shards):
            key = heartbeat(f"H{n}", shard)
            assert probe.execute_command("CLUSTER", "KEYSLOT", key) == probe.execute_command(
                "CLUSTER", "KEYSLOT", trips_stream(shard))
        probe.close()

        for n, shard in enumerate(shards):
            acl.create(cluster.url, f"H{n}", tmp_path / f"H{n}.password", shard=shard)
            device = Validator(validator_id=f"H{n}", vehicle=f"29B-00{n}.00", route=ROUTE,
                               data_dir=tmp_path / f"validator-H{n}")
            devices.append(device)
            client = connect(cluster.url, username=f"H{n}",
                             password=(tmp_path / f"H{n}.password").read_text().strip())
            clients.append(client)
            Syncer(device.journal, device.lists, client, validator_id=f"H{n}", shard=shard,
                   heartbeat=Heartbeat(device)).beat_once()

        read = heartbeats.read(cluster.url)
        assert {v: (b["vehicle"], b["backlog"]) for v, b in read.items()} == {
            "H0": ("29B-000.00", 0), "H1": ("29B-001.00", 0)}

        # H0 passing for H1, in H1's shard or its own: refused.
        for shard in shards:
            forger = Syncer(devices[0].journal, devices[0].lists, clients[0],
                            validator_id="H1", shard=shard, heartbeat=Heartbeat(devices[0]))
            with pytest.raises(redis.ResponseError, match="(?i)noperm|no permissions"):
                forger.beat_once()
        assert beat_of(admin, "H1", shards[1])["vehicle"] == "29B-001.00"
        assert admin.exists(heartbeat("H1", shards[0])) == 0
    finally:
        for client in clients:
            client.close()
        for device in devices:
            device.close()
        admin.close()
