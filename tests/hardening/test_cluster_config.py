"""A validator's configuration for a Redis Cluster: the URL scheme and its shard go together."""

from __future__ import annotations

import pytest

from validator import config as configuration

BASE = """
[validator]
id = "V-1"
vehicle = "29B-1"
[position]
route = "32"
[redis]
"""


def load(tmp_path, redis_table: str):
    path = tmp_path / "validator.toml"
    path.write_text(BASE + redis_table)
    return configuration.load(path, environ={})


def test_a_cluster_url_with_its_shard(tmp_path):
    config = load(tmp_path, 'url = "redis+cluster://10.8.0.1:7000"\nshard = "depot-3"\n')
    assert config.redis_shard == "depot-3"


@pytest.mark.parametrize("table, message", [
    ('url = "redis+cluster://10.8.0.1:7000"\n', "[redis] shard is needed with a "
                                                 "redis+cluster:// URL"),
    ('url = "redis://10.8.0.1:6379/0"\nshard = "depot-3"\n', "[redis] shard is needed"),
    ('url = "redis+cluster://10.8.0.1:7000"\nshard = "a/b"\n', "[redis] shard must be"),
    ('url = "redis+cluster://10.8.0.1:7000"\nshard = 3\n', "[redis] shard must be"),
])
def test_mistakes_are_one_line(tmp_path, table, message):
    with pytest.raises(configuration.ConfigError) as error:
        load(tmp_path, table)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_issuers_rate_limits_count_on_a_cluster(tmp_path):
    """The issuer's REDIS_URL may name a cluster: the limits (flask-limiter's storage) count
    there, shared by every worker and host."""
    import redis

    from issuer import create_app
    from issuer.platform import db
    from issuer.web import limits
    from hardening_testkit import RedisClusterProcesses

    nodes = RedisClusterProcesses(tmp_path / "cluster")
    try:
        nodes.create()
        url = f"sqlite:///{tmp_path / 'vexe.db'}"
        db.migrate(url)  # the issuer starts on a database at its schema only
        app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True,
                          "REDIS_URL": nodes.url, "SECRET_KEY": _fernet_key(),
                          "DATABASE_URL": url})
        client = app.test_client()
        allowed = int(limits.E_ID.split()[0])
        statuses = [client.get("/signin").status_code for _ in range(allowed + 1)]
        assert statuses[-1] == 429 and 429 not in statuses[:-1]
        found = []
        for port in nodes.ports:  # each node on its own: a master holds the count
            node = redis.Redis(host="127.0.0.1", port=port)
            try:
                found += node.keys("LIMITS:LIMITER/vexe:ratelimit/*")
            finally:
                node.close()
        assert found, "no limit counted in the cluster"
        limits.limiter.storage.get_connection().close()  # before its cluster goes
    finally:
        nodes.stop()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
