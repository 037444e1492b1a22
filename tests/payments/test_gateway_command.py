"""`vexe gateway serve` refuses what would make it unsafe or useless before it listens:
an address other machines reach (anyone there could mark payments paid) and no secret."""

from __future__ import annotations

from click.testing import CliRunner

from vexe.cli import main


def test_only_loopback_unless_told_what_it_is(monkeypatch):
    monkeypatch.setenv("VEXE_GATEWAY_HASH_SECRET", "s3cret")
    refused = CliRunner().invoke(main, ["gateway", "serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "not a loopback address" in refused.output


def test_no_secret_no_gateway(monkeypatch, tmp_path):
    monkeypatch.delenv("VEXE_GATEWAY_HASH_SECRET", raising=False)
    refused = CliRunner().invoke(main, ["gateway", "serve"])
    assert refused.exit_code == 2 and "no hash secret" in refused.output
    empty = tmp_path / "secret"
    empty.write_text("\n")
    refused = CliRunner().invoke(main, ["gateway", "serve", "--hash-secret-file", str(empty)])
    assert refused.exit_code == 2 and "no hash secret" in refused.output
