"""Where the e-ID provider may be: the issuer takes one over HTTPS (plain HTTP only on this
machine's loopback) and says so at start-up; the development provider listens on loopback
unless forced by a flag that says what it is, and takes its client secret from the
environment or a file, never from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from idp.cli import idp
from issuer import create_app
from issuer.platform.errors import NotReady
from tests.testkit import free_port, wait_for

VEXE = str(Path(sys.executable).parent / "vexe")


def _with_provider(initialised: dict, url: str) -> dict:
    return {**initialised, "OIDC_ISSUER": url, "OIDC_CLIENT_ID": "vexe",
            "OIDC_CLIENT_SECRET": "s3cret"}


class TestTheIssuer:
    @pytest.mark.parametrize("url", ["http://eid.example.vn", "http://192.0.2.10:8100",
                                     "http://0.0.0.0:8100", "http://[2001:db8::1]:8100",
                                     "ftp://127.0.0.1", "eid.example.vn"])
    def test_refuses_a_provider_not_on_https_at_start_up(self, initialised, url):
        with pytest.raises(NotReady, match="must be an https:// URL"):
            create_app(_with_provider(initialised, url))

    @pytest.mark.parametrize("url", ["https://eid.example.vn", "http://127.0.0.1:8100",
                                     "http://127.0.0.53:8100", "http://localhost:8100",
                                     "http://[::1]:8100/"])
    def test_takes_https_or_loopback(self, initialised, url):
        assert create_app(_with_provider(initialised, url)).config["OIDC_ISSUER"] == url

    def test_vexe_serve_says_why_in_one_line(self, cli):
        line = cli.fails("serve", code=1, env={"VEXE_OIDC_ISSUER": "http://eid.example.vn",
                                               "VEXE_OIDC_CLIENT_ID": "vexe",
                                               "VEXE_OIDC_CLIENT_SECRET": "s3cret"})
        assert "OIDC_ISSUER must be an https:// URL" in line


class TestTheDevelopmentProvider:
    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "idp.example.vn"])
    def test_refuses_an_address_off_loopback(self, host):
        result = CliRunner().invoke(idp, ["serve", "--host", host],
                                    env={"VEXE_OIDC_CLIENT_SECRET": "s3cret"})
        assert result.exit_code == 2
        assert "not a loopback address" in result.output
        assert "--insecure-public-test-only" in result.output

    def test_takes_no_secret_on_the_command_line(self):
        result = CliRunner().invoke(idp, ["serve", "--client-secret", "s3cret"])
        assert result.exit_code == 2 and "No such option" in result.output

    def test_needs_a_secret(self, tmp_path):
        empty = tmp_path / "empty"
        empty.write_text("")
        for args in ([], ["--client-secret-file", str(empty)]):
            result = CliRunner().invoke(idp, ["serve", *args], env={"VEXE_OIDC_CLIENT_SECRET": ""})
            assert result.exit_code == 2 and "no client secret" in result.output

    def test_serves_on_loopback_with_the_secret_from_a_file(self, tmp_path):
        """The secret in the file is the one it checks, and the process list shows none."""
        secret_file = tmp_path / "client.secret"
        secret_file.write_text("from-a-file\n")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "VEXE_OIDC_CLIENT_SECRET"}
        proc = subprocess.Popen([VEXE, "idp", "serve", "--port", str(port),
                                 "--client-secret-file", str(secret_file)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(f"{base}/.well-known/openid-configuration"), timeout=30,
                     what="the provider up")
            assert b"from-a-file" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            token = f"{base}/token"
            wrong = requests.post(token, auth=("vexe", "not-it"), timeout=10,
                                  data={"grant_type": "authorization_code", "code": "x"})
            right = requests.post(token, auth=("vexe", "from-a-file"), timeout=10,
                                  data={"grant_type": "authorization_code", "code": "x"})
            assert wrong.json()["error"] == "invalid_client"
            assert right.json()["error"] == "invalid_grant"  # the client passed; the code not
        finally:
            proc.terminate()
            proc.wait(30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
