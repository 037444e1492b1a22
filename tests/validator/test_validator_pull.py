"""The pull: trust list and denylist from Redis, cached on disk, a bad one never used."""

import json
import logging

from shared import keys
from shared.denylist import DenyEntry, Denylist
from shared.redis_keys import DENYLIST, TRUST_LIST
from validator.lists import DENYLIST_FILE, TRUST_FILE
from validator.sync import Syncer
from validator_testkit import NOW, publish_trust


def syncer_for(validator, client) -> Syncer:
    return Syncer(validator.journal, validator.lists, client, validator_id=validator.validator_id)


def test_pull_writes_the_cache_and_a_restart_without_redis_starts_from_it(
        make_validator, issuer, redis_client):
    validator = make_validator(validator_id="V7", trusted=False)
    publish_trust(redis_client, issuer)
    redis_client.set(DENYLIST, Denylist(NOW, {"GONE": DenyEntry(NOW - 5, NOW + 5)}).dumps())

    assert syncer_for(validator, redis_client).pull_once(NOW) == {"trust": "changed",
                                                                  "denylist": "changed"}
    assert len(validator.lists.trust) == 1 and validator.lists.denylist.is_revoked("GONE")
    assert json.loads((validator.data_dir / TRUST_FILE).read_text()) == issuer.trust.to_jwks()
    assert not list(validator.data_dir.glob(".*.tmp"))  # no temporary files left behind
    validator.close()

    # No Redis at all: a new validator process reads the cache.
    restarted = make_validator(validator_id="V7", trusted=False)
    assert len(restarted.lists.trust) == 1
    assert restarted.scan(issuer.rider(now=NOW).qr(NOW), NOW).accepted
    assert restarted.scan(issuer.rider(now=NOW, pass_id="GONE").qr(NOW), NOW).reason == "revoked"


def test_a_bad_trust_list_in_redis_keeps_the_last_good_one(make_validator, issuer, redis_client,
                                                           caplog):
    validator = make_validator(trusted=False)
    syncer = syncer_for(validator, redis_client)
    publish_trust(redis_client, issuer)
    syncer.pull_once(NOW)
    cached = (validator.data_dir / TRUST_FILE).read_bytes()

    for bad in (b"{not json", b'{"keys": [{"kty": "RSA", "kid": "x"}]}', b"\xff\xfe",
                b'{"keys": "none"}'):
        redis_client.set(TRUST_LIST, bad)
        with caplog.at_level(logging.ERROR, logger="validator.sync"):
            assert syncer.pull_once(NOW)["trust"] == "bad"
        assert "keeping the last good one" in caplog.text
        assert len(validator.lists.trust) == 1
        assert (validator.data_dir / TRUST_FILE).read_bytes() == cached
    assert validator.scan(issuer.rider(now=NOW).qr(NOW), NOW).accepted

    # The next good list is taken.
    rotated = keys.new_signing_key()
    both = keys.TrustList([*[keys.TrustedKey(issuer.kid, issuer.signing_key.public_key())],
                           keys.TrustedKey(keys.key_id(rotated), rotated.public_key())])
    redis_client.set(TRUST_LIST, both.dumps())
    assert syncer.pull_once(NOW)["trust"] == "changed"
    assert len(validator.lists.trust) == 2


def test_a_bad_denylist_keeps_the_last_good_one(make_validator, redis_client):
    validator = make_validator()
    syncer = syncer_for(validator, redis_client)
    redis_client.set(DENYLIST, Denylist(NOW, {"GONE": DenyEntry(NOW, NOW + 5)}).dumps())
    syncer.pull_once(NOW)
    redis_client.set(DENYLIST, '{"entries": [{"pid": 5}]}')
    assert syncer.pull_once(NOW)["denylist"] == "bad"
    assert validator.lists.denylist.is_revoked("GONE")
    assert Denylist.loads((validator.data_dir / DENYLIST_FILE).read_text()).is_revoked("GONE")


def test_lists_missing_from_redis_leave_what_the_validator_has(make_validator, redis_client):
    validator = make_validator()
    assert syncer_for(validator, redis_client).pull_once(NOW) == {"trust": "missing",
                                                                  "denylist": "missing"}
    assert len(validator.lists.trust) == 1


def test_an_unchanged_list_is_not_rewritten(make_validator, issuer, redis_client):
    validator = make_validator(trusted=False)
    syncer = syncer_for(validator, redis_client)
    publish_trust(redis_client, issuer)
    assert syncer.pull_once(NOW)["trust"] == "changed"
    mtime = (validator.data_dir / TRUST_FILE).stat().st_mtime_ns
    assert syncer.pull_once(NOW)["trust"] == "same"
    assert (validator.data_dir / TRUST_FILE).stat().st_mtime_ns == mtime


def test_a_corrupt_cache_file_is_ignored_at_start(make_validator, tmp_path, caplog):
    directory = tmp_path / "validator-V8"
    directory.mkdir()
    (directory / TRUST_FILE).write_text("{half a file")
    with caplog.at_level(logging.WARNING, logger="validator.lists"):
        validator = make_validator(validator_id="V8", trusted=False)
    assert len(validator.lists.trust) == 0
    assert "ignoring the cached trust" in caplog.text
