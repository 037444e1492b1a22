"""``vexe validate``: one QR checked by hand; exit 0 accepted, 1 refused, 2 usage error."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.denylist import DenyEntry, Denylist
from shared.redis_keys import DENYLIST, TRUST_LIST
from validator.check import check
from vexe.cli import main
from validator_testkit import NOW, publish_trust
from tests.testkit import ROUTE

AWAY = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def trust_file(tmp_path, issuer):
    path = tmp_path / "jwks.json"
    path.write_text(issuer.trust.dumps())
    return path


def vexe(*args, redis_url=AWAY):
    return CliRunner().invoke(main, [str(arg) for arg in args], env={"VEXE_REDIS_URL": redis_url})


def test_accepted_prints_the_decision_and_exits_0(issuer, trust_file):
    qr = issuer.rider(now=NOW).qr(NOW)
    result = vexe("validate", qr, "--route", ROUTE, "--at", NOW, "--trust", trust_file,
                  "--denylist", write_denylist(trust_file.parent, Denylist.empty()))
    assert result.exit_code == 0, result.output
    expected = check(qr, trust=issuer.trust, denylist=Denylist.empty(), route=ROUTE,
                     vehicle="-", now=NOW).to_dict()
    assert json.loads(result.stdout) == expected
    assert set(expected) == {"decision", "reason", "message", "pass"}
    assert result.stderr == ""


def test_refused_exits_1_with_the_reason(issuer, trust_file):
    qr = issuer.rider(now=NOW, routes=("09",)).qr(NOW)
    result = vexe("validate", qr, "--route", ROUTE, "--at", NOW, "--trust", trust_file)
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["decision"] == "refuse" and body["reason"] == "wrong_route"
    assert body["message"]["en"] == "Pass not valid on this route"
    assert body["pass"]["routes"] == ["09"]


def test_freshness_and_time_options(issuer, trust_file):
    qr = issuer.rider(now=NOW).qr(NOW)
    late = vexe("validate", qr, "--route", ROUTE, "--at", NOW + 60, "--trust", trust_file)
    assert late.exit_code == 1 and json.loads(late.stdout)["reason"] == "stale_proof"
    lenient = vexe("validate", qr, "--route", ROUTE, "--at", NOW + 60, "--trust", trust_file,
                   "--freshness", 90)
    assert lenient.exit_code == 0


def test_garbage_qr_is_a_refusal_not_a_crash(trust_file):
    result = vexe("validate", "VX1:%%%", "--route", ROUTE, "--trust", trust_file)
    assert result.exit_code == 1 and json.loads(result.stdout)["reason"] == "malformed"


VECTORS = Path(__file__).resolve().parents[1] / "vectors"
UNREADABLE_CLAIMS = ["malformed-claim-lone-surrogate", "malformed-claim-lone-surrogate-jti",
                     "malformed-claim-control-character"]


@pytest.mark.parametrize("name", UNREADABLE_CLAIMS)
def test_a_signed_claim_no_text_can_hold_is_a_refusal_not_a_crash(name):
    """The real command, printing to a real pipe: the vector's claims hold "\\ud800" or a NUL."""
    [vector] = [case for case in json.loads((VECTORS / "cases.json").read_text())["cases"]
                if case["name"] == name]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "vexe"), "validate", vector["qr"], "--route",
         vector["route"], "--at", str(vector["now"]), "--trust", str(VECTORS / "jwks.json"),
         "--denylist", str(VECTORS / "denylist.json")], capture_output=True, timeout=60)
    assert (result.returncode, result.stderr) == (1, b"")
    answer = json.loads(result.stdout)
    assert (answer["reason"], answer["pass"]) == ("malformed", None)


def test_without_redis_the_denylist_is_empty_with_a_warning(issuer, trust_file):
    result = vexe("validate", issuer.rider(now=NOW).qr(NOW), "--route", ROUTE, "--at", NOW,
                  "--trust", trust_file)
    assert result.exit_code == 0
    assert result.stderr.startswith("vexe: warning: cannot read the denylist")
    assert result.stderr.count("\n") == 1


def test_lists_come_from_redis_when_not_given(issuer, redis_url, redis_client):
    publish_trust(redis_client, issuer)
    redis_client.set(DENYLIST, Denylist(NOW, {"GONE": DenyEntry(NOW, NOW + 9)}).dumps())
    ok = vexe("validate", issuer.rider(now=NOW).qr(NOW), "--route", ROUTE, "--at", NOW,
              redis_url=redis_url)
    assert ok.exit_code == 0 and ok.stderr == ""
    revoked = vexe("validate", issuer.rider(now=NOW, pass_id="GONE").qr(NOW), "--route", ROUTE,
                   "--at", NOW, redis_url=redis_url)
    assert revoked.exit_code == 1 and json.loads(revoked.stdout)["reason"] == "revoked"


def write_denylist(directory, denylist: Denylist):
    path = directory / "deny.json"
    path.write_text(denylist.dumps())
    return path


@pytest.mark.parametrize("case", ["no trust file", "bad trust file", "trust is a directory",
                                  "bad denylist file", "bad --at", "negative --at",
                                  "no redis, no --trust", "no trust list in redis",
                                  "bad trust list in redis"])
def test_usage_errors_exit_2_with_one_line(case, issuer, trust_file, tmp_path, redis_url,
                                           redis_client):
    qr = issuer.rider(now=NOW).qr(NOW)
    args = ["validate", qr, "--route", ROUTE, "--trust", trust_file]
    url = AWAY
    expect = ""
    if case == "no trust file":
        args[-1], expect = tmp_path / "missing.json", "No such file"
    elif case == "bad trust file":
        (tmp_path / "bad.json").write_text('{"keys": [1]}')
        args[-1], expect = tmp_path / "bad.json", "bad trust list"
    elif case == "trust is a directory":
        args[-1], expect = tmp_path, "cannot read trust list"
    elif case == "bad denylist file":
        (tmp_path / "deny.json").write_text("[]")
        args += ["--denylist", tmp_path / "deny.json"]
        expect = "bad denylist"
    elif case == "bad --at":
        args += ["--at", "yesterday"]
        expect = "--at must be a Unix time"
    elif case == "negative --at":
        args += ["--at", "-5"]
        expect = "--at must be a Unix time"
    elif case == "no redis, no --trust":
        args, expect = args[:-2], "pass --trust"
    elif case == "no trust list in redis":
        args, url, expect = args[:-2], redis_url, "no trust list in Redis"
    elif case == "bad trust list in redis":
        redis_client.set(TRUST_LIST, "{}")
        args, url, expect = args[:-2], redis_url, "bad trust list in Redis"
    result = vexe(*args, redis_url=url)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("vexe: ") and expect in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
