"""``vexe idp serve``: the development e-ID provider on this machine.

Whoever reaches it signs in as any citizen they pick: it listens on this machine's loopback
only, unless told otherwise by a flag that says what it is. The issuer's client secret comes
from the environment or a file, never the command line (which every user on the host can
read in the process list).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from issuer.identity.oidc import is_loopback
from shared import logs

SECRET_ENV = "VEXE_OIDC_CLIENT_SECRET"


def _client_secret(path: Path | None) -> str:
    """The first line of ``path``, else the environment's; a usage error if neither has one."""
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        secret = lines[0].strip() if lines else ""
    else:
        secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise click.UsageError(f"no client secret: set {SECRET_ENV}, or give "
                               "--client-secret-file with the secret on its first line")
    return secret


@click.group()
def idp() -> None:
    """The development identity provider (OpenID Connect) standing in for the national e-ID."""


@idp.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="A loopback address (127.0.0.0/8, ::1, localhost).")
@click.option("--port", default=8100, show_default=True, type=click.IntRange(1, 65535))
@click.option("--client-id", default="vexe", show_default=True)
@click.option("--client-secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help=f"A file whose first line is the issuer's client secret "
                                 f"(else {SECRET_ENV}).")
@click.option("--redirect-uri", default=["http://127.0.0.1:8000/signin/callback"],
              show_default=True, multiple=True, help="Where the issuer receives the code.")
@click.option("--insecure-public-test-only", is_flag=True,
              help="Listen on an address other machines reach. Anyone who reaches it signs in "
                   "as any citizen: for a closed test network only, never with real data.")
def serve(host: str, port: int, client_id: str, client_secret_file: Path | None,
          redirect_uri: tuple[str, ...], insecure_public_test_only: bool) -> None:
    """Serve discovery, JWKS, authorization (a citizen chooser), token and userinfo.

    Point the issuer at it with VEXE_OIDC_ISSUER=http://HOST:PORT, VEXE_OIDC_CLIENT_ID and
    VEXE_OIDC_CLIENT_SECRET.
    """
    import idp as provider

    if not (is_loopback(host) or insecure_public_test_only):
        raise click.UsageError(
            f"--host {host} is not a loopback address: whoever reaches the development e-ID "
            "signs in as any citizen. Use 127.0.0.1, or add --insecure-public-test-only on a "
            "closed test network")
    try:
        logs.setup()
    except logs.SettingError as exc:
        raise click.UsageError(str(exc)) from None
    secret = _client_secret(client_secret_file)
    app = provider.create_app({"ISSUER": f"http://{host}:{port}", "CLIENTS": [{
        "client_id": client_id, "client_secret": secret,
        "redirect_uris": list(redirect_uri)}]})
    app.run(host=host, port=port)


commands = [idp]
