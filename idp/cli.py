"""``vexe idp serve``: the development e-ID provider on this machine."""

from __future__ import annotations

import click


@click.group()
def idp() -> None:
    """The development identity provider (OpenID Connect) standing in for the national e-ID."""


@idp.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=click.IntRange(1, 65535))
@click.option("--client-id", default="vexe", show_default=True)
@click.option("--client-secret", envvar="VEXE_OIDC_CLIENT_SECRET", required=True,
              help="The issuer's client secret (or VEXE_OIDC_CLIENT_SECRET).")
@click.option("--redirect-uri", default=["http://127.0.0.1:8000/signin/callback"],
              show_default=True, multiple=True, help="Where the issuer receives the code.")
def serve(host: str, port: int, client_id: str, client_secret: str,
          redirect_uri: tuple[str, ...]) -> None:
    """Serve discovery, JWKS, authorization (a citizen chooser), token and userinfo.

    Point the issuer at it with VEXE_OIDC_ISSUER=http://HOST:PORT, VEXE_OIDC_CLIENT_ID and
    VEXE_OIDC_CLIENT_SECRET.
    """
    import idp as provider

    app = provider.create_app({"ISSUER": f"http://{host}:{port}", "CLIENTS": [{
        "client_id": client_id, "client_secret": client_secret,
        "redirect_uris": list(redirect_uri)}]})
    app.run(host=host, port=port)


commands = [idp]
