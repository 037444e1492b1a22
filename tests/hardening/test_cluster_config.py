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
