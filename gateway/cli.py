"""``vexe gateway serve``: the development payment gateway on this machine.

Whoever reaches it can mark any payment paid: it listens on this machine's loopback only,
unless told otherwise by a flag that says what it is. The hash secret comes from the
environment or a file, never the command line (which every user on the host can read in
the process list).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from shared import logs

SECRET_ENV = "VEXE_GATEWAY_HASH_SECRET"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hash_secret(path: Path | None) -> str:
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        secret = lines[0].strip() if lines else ""
    else:
        secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise click.UsageError(f"no hash secret: set {SECRET_ENV}, or give "
                               "--hash-secret-file with the secret on its first line")
    return secret


@click.group()
def gateway() -> None:
    """The development payment gateway (VNPay's 2.1 protocol) standing in for a real one."""


@gateway.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="A loopback address (127.0.0.0/8, ::1, localhost).")
@click.option("--port", default=8200, show_default=True, type=click.IntRange(1, 65535))
@click.option("--tmn-code", default="VEXEDEV1", show_default=True,
              help="The merchant's terminal code (the issuer's VEXE_GATEWAY_TMN_CODE).")
@click.option("--hash-secret-file", type=click.Path(exists=True, dir_okay=False,
                                                    path_type=Path),
              default=None, help=f"A file whose first line is the hash secret (else "
                                 f"{SECRET_ENV}, the same variable the issuer reads).")
@click.option("--ipn-url", default="http://127.0.0.1:8000/api/payments/vnpay/ipn",
              show_default=True, help="Where the merchant receives the IPN.")
@click.option("--ipn-delay", default=5.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds a late IPN waits.")
@click.option("--insecure-public-test-only", is_flag=True,
              help="Listen on an address other machines reach. Anyone who reaches it can mark "
                   "payments paid: for a closed test network only.")
def serve(host: str, port: int, tmn_code: str, hash_secret_file: Path | None, ipn_url: str,
          ipn_delay: float, insecure_public_test_only: bool) -> None:
    """Serve the payment page, the IPN and the merchant API (querydr, refund).

    Point the issuer at it with VEXE_GATEWAY_URL=http://HOST:PORT, VEXE_GATEWAY_TMN_CODE
    and VEXE_GATEWAY_HASH_SECRET. The transactions page is /dev/.
    """
    import gateway as dev_gateway

    if not (_is_loopback(host) or insecure_public_test_only):
        raise click.UsageError(
            f"--host {host} is not a loopback address: whoever reaches the development "
            "gateway can mark payments paid. Use 127.0.0.1, or add "
            "--insecure-public-test-only on a closed test network")
    try:
        logs.setup()
    except logs.SettingError as exc:
        raise click.UsageError(str(exc)) from None
    app = dev_gateway.create_app({"IPN_DELAY": ipn_delay, "TERMINALS": [{
        "tmn_code": tmn_code, "hash_secret": _hash_secret(hash_secret_file),
        "ipn_url": ipn_url}]})
    app.run(host=host, port=port, threaded=True)


commands = [gateway]
