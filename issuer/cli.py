"""The issuer's ``vexe`` commands. They work on the database directly: no server needed.

Output is JSON on stdout (a QR's text is printed as is). Errors are one line on stderr,
``vexe: ...``: exit 2 for bad input, 1 when the issuer or its database is not ready.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from issuer import bootstrap
from issuer.identity import accounts, operators
from issuer.identity import actions as identity_actions
from issuer.network import actions as network_actions
from issuer.network import feed as network
from issuer.network import gtfs, routes
from issuer.passes import actions as pass_actions
from issuer.passes import passes, publish, qr, signing
from issuer.platform import audit, db, partitions, settings
from issuer.platform.commandline import Command, Group, cli_actor, command_session, emit, fail
from shared import clock, logs
from shared.i18n import N_


def _warn_unpublished(result: publish.Published) -> None:
    if not result.ok:
        click.echo(f"vexe: warning: not published: {result.error}; run `vexe publish` later",
                   err=True)


def _credential_settings(config) -> dict:
    return {"sealing_key": config["SEALING_KEY"], "lifetime": config["CREDENTIAL_LIFETIME"]}


# -- vexe init / publish / serve -----------------------------------------------------------

@click.command(cls=Command)
def init() -> None:
    """Create the database and the first signing key; safe to run twice."""
    config = settings.load()
    now = clock.now()
    result = bootstrap.init(config, now=now)
    out = result.as_dict()
    if "signing_key" in result.created:
        with db.session(config["DATABASE_URL"]) as session:
            published = publish.publish(session, config["REDIS_URL"], now=now)
        out["published"] = published.ok
        _warn_unpublished(published)
    if not result.created:
        out["message"] = "already initialized; nothing changed"
    emit(out)


@click.command("publish", cls=Command)
def publish_command() -> None:
    """Publish the trust list, the denylist and each route's stops to Redis again."""
    with command_session() as (config, session):
        result = publish.publish(session, config["REDIS_URL"], now=clock.now())
        network_result = publish.publish_network(session, config["REDIS_URL"])
    if not result.ok:
        fail(f"not published: {result.error}", 1)
    if not network_result.ok:
        fail(f"stops not published: {network_result.error}", 1)
    emit({**result.as_dict(), "stops": network_result.as_dict()})


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Run the issuer's HTTP API (a development server; use gunicorn for real)."""
    from issuer import create_app

    try:
        logs.setup()
    except logs.SettingError as exc:
        fail(str(exc), 2)
    create_app().run(host=host, port=port)


# -- vexe db -------------------------------------------------------------------------------

@click.group("db", cls=Group)
def db_group() -> None:
    """The database's schema: where it stands, and bringing it to this version's."""


@db_group.command("status")
def db_status() -> None:
    """The schema's revision against this version's newest (head); exit 0 either way. On
    PostgreSQL, the trips' monthly partitions too."""
    url = settings.load()["DATABASE_URL"]
    status = db.schema_status(url)
    status["problem"] = db.schema_problem(status)
    with db.engine(url).connect() as conn:
        if partitions.partitioned(conn):
            status["trips_partitions"] = partitions.existing(conn)
    emit(status)


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to this version's newest revision (stop the ingest workers first);
    on PostgreSQL, make the trips' monthly partitions that are due."""
    config = settings.load()
    url = config["DATABASE_URL"]
    before = db.schema_status(url)
    if before["current"] is not None and not db.known_revision(before["current"]):
        fail(db.schema_problem(before), 1)  # a newer version's: nothing here upgrades it
    db.migrate(url)
    with db.engine(url).begin() as conn:  # what the ingest makes, as it would (its max age)
        made = partitions.ensure(conn, now_ms=int(clock.now() * 1000),
                                 back_ms=int(config["INGEST_MAX_AGE_DAYS"] * 86400_000))
    emit({"database": before["database"], "from": before["current"],
          "to": db.current_revision(url), "changed": before["current"] != before["head"],
          "partitions_made": made})


# -- vexe route ----------------------------------------------------------------------------

@click.group(cls=Group)
def route() -> None:
    """Bus routes of the network."""


@route.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The route's name, e.g. 'Giáp Bát - Nhổn'.")
def route_add(code: str, name: str) -> None:
    """Add a route."""
    with command_session() as (_, session):
        now = clock.now()
        added = network_actions.add_route(session, cli_actor(), code, name, now=now)
        emit(routes.as_dict(added))


@route.command("list")
def route_list() -> None:
    """List the routes."""
    with command_session() as (_, session):
        emit([routes.as_dict(r) for r in routes.list_routes(session)])


# -- vexe network --------------------------------------------------------------------------

@click.group("network", cls=Group)
def network_group() -> None:
    """The network from a GTFS feed: companies, routes, stops, each route's stops."""


@network_group.command("import")
@click.argument("feed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Report what the import would change; change nothing.")
def network_import(feed: Path, dry_run: bool) -> None:
    """Import a GTFS feed (a zip): a newer feed applies the difference, a route gone from it
    is retired. A feed with errors is refused whole, with the list of them. Each route's
    stops are then published to Redis for its validators."""
    now = clock.now()
    read = gtfs.read(feed, now=now)
    with command_session() as (config, session):
        if dry_run:
            emit({**network.plan(session, read), "dry_run": True})
            return
        summary = network_actions.import_feed(session, cli_actor(), read, source=feed.name,
                                              now=now)
        published = publish.publish_network(session, config["REDIS_URL"])
        if not published.ok:
            click.echo(f"vexe: warning: stops not published: {published.error}; run "
                       "`vexe publish` later", err=True)
        emit({**summary, "dry_run": False, "stops_published": published.as_dict()})


# -- vexe account --------------------------------------------------------------------------

@click.group(cls=Group)
def account() -> None:
    """Rider accounts."""


@account.command("create")
@click.option("--name", required=True, help="Full name, as on the national ID.")
@click.option("--birth-date", required=True, metavar="YYYY-MM-DD")
@click.option("--national-id", default=None, help="12 digits; only a keyed hash is kept.")
def account_create(name: str, birth_date: str, national_id: str | None) -> None:
    """Create an account; prints its id and the rider token (shown this once)."""
    with command_session() as (config, session):
        now = clock.now()
        acct, token = identity_actions.create_account(
            session, cli_actor(), name, birth_date, now=now, national_id=national_id,
            national_id_key=config["NATIONAL_ID_KEY"])
        emit({**accounts.as_dict(acct), "rider_token": token})


# -- vexe operator / audit -----------------------------------------------------------------

def _read_password(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text", 2)
    return lines[0] if lines else ""


_role_option = click.option("--role", "roles", multiple=True, required=True,
                            type=click.Choice(operators.ROLES), help="Repeat for several roles.")
_password_file = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="A file whose first line is the password (kept only as a salted hash).")


@click.group(cls=Group)
def operator() -> None:
    """Operators, their roles, passwords and API tokens."""


@operator.command("create")
@click.argument("username")
@_role_option
@_password_file
def operator_create(username: str, roles: tuple[str, ...], password_file: Path | None) -> None:
    """Create an operator. Without a password file, they use API tokens only."""
    password = _read_password(password_file)
    with command_session() as (_, session):
        now = clock.now()
        op = identity_actions.create_operator(session, cli_actor(), username, roles, now=now,
                                              password=password)
        emit(operators.as_dict(op))


@operator.command("token")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(operators.ROLES))
def operator_token(username: str, role: str) -> None:
    """Issue an API token scoped to one of the operator's roles (printed this once)."""
    with command_session() as (_, session):
        now = clock.now()
        row, token = identity_actions.issue_operator_token(session, cli_actor(), username, role,
                                                           now=now)
        emit({"username": username, "role": role, "token_id": row.id, "token": token})


@operator.command("revoke-token")
@click.argument("token_id", type=int)
def operator_revoke_token(token_id: int) -> None:
    """Revoke an operator's API token by its id."""
    with command_session() as (_, session):
        now = clock.now()
        row = identity_actions.revoke_operator_token(session, cli_actor(), token_id, now=now)
        emit({"token_id": row.id, "revoked_at": row.revoked_at})


@operator.command("tokens")
@click.argument("username", required=False)
def operator_tokens(username: str | None) -> None:
    """List API tokens (of one operator, or all) by id, revoked ones too; never the token."""
    with command_session() as (_, session):
        emit(operators.list_tokens(session, username))


@operator.command("roles")
@click.argument("username")
@_role_option
def operator_roles(username: str, roles: tuple[str, ...]) -> None:
    """Replace an operator's roles; tokens for a role taken away stop working."""
    with command_session() as (_, session):
        now = clock.now()
        op = identity_actions.set_operator_roles(session, cli_actor(), username, roles, now=now)
        emit(operators.as_dict(op))


@operator.command("password")
@click.argument("username")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="A file whose first line is the new password.")
def operator_password(username: str, password_file: Path) -> None:
    """Set an operator's password."""
    password = _read_password(password_file)
    with command_session() as (_, session):
        op = identity_actions.set_operator_password(session, cli_actor(), username, password,
                                                    now=clock.now())
        emit(operators.as_dict(op))


@operator.command("disable")
@click.argument("username")
@click.option("--reason", required=True, help="Why, for the record.")
def operator_disable(username: str, reason: str) -> None:
    """Disable an operator: no sign-in, their tokens and sessions stop working."""
    with command_session() as (_, session):
        now = clock.now()
        op = identity_actions.disable_operator(session, cli_actor(), username, reason, now=now)
        emit(operators.as_dict(op))


@operator.command("list")
def operator_list() -> None:
    """List the operators."""
    with command_session() as (_, session):
        emit([operators.as_dict(op) for op in operators.list_operators(session)])


@click.command("audit", cls=Command)
@click.option("--actor", default=None)
@click.option("--target", default=None)
@click.option("--action", default=None)
@click.option("--limit", type=click.IntRange(1, audit.MAX_ENTRIES), default=50, show_default=True)
def audit_command(actor: str | None, target: str | None, action: str | None, limit: int) -> None:
    """Show the audit log, newest first."""
    with command_session() as (_, session):
        emit([audit.as_dict(e) for e in audit.entries(session, actor=actor, target=target,
                                                         action=action, limit=limit)])


# -- vexe pass -----------------------------------------------------------------------------

@click.group("pass", cls=Group)
def pass_() -> None:
    """Passes: issue, show the custodial QR, revoke, the denylist."""


@pass_.command("issue")
@click.argument("account_id")
@click.option("--product", required=True, type=click.Choice(["single", "multi", "free"]))
@click.option("--route", default=None, help="Route code (single-route passes).")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="The month (free pass: its first month). Default: this month in Hanoi.")
@click.option("--category", default=None,
              help="Free pass: a free fare category (elderly, disability, merit, child).")
def pass_issue(account_id: str, product: str, route: str | None, month: str | None,
               category: str | None) -> None:
    """Issue a pass to an account; prints it, with its id."""
    with command_session() as (_, session):
        now = clock.now()
        p = pass_actions.issue(session, cli_actor(), account_id, product, now=now, route=route,
                               month=month, category=category)
        emit(passes.as_dict(session, p))


@pass_.command("show")
@click.argument("pass_id")
def pass_show(pass_id: str) -> None:
    """Show a pass."""
    with command_session() as (_, session):
        emit(passes.as_dict(session, passes.get(session, pass_id)))


@pass_.command("qr")
@click.argument("pass_id")
@click.option("--at", type=click.IntRange(0, 2**32 - 1), default=None, metavar="UNIX_TIME",
              help="The moment of the rotating proof. Default: now.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              default=None, help="Also write the QR as a PNG image to this file.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              default=None, help="Also write the QR as an SVG image to this file.")
@click.option("--reason", required=True,
              help="Why an operator takes the rider's QR (e.g. printed at the counter for a "
                   "rider with no phone); written in the audit log.")
def pass_qr(pass_id: str, at: int | None, png_path: Path | None, svg_path: Path | None,
            reason: str) -> None:
    """Print the custodial rotating QR's text, binding a custodial key if the pass has none.

    The QR rides on the rider's pass: this is an operator acting for the rider, recorded in
    the audit log with its reason: pass.custodial when it binds the key, pass.custodial_qr
    when the pass was custodial already."""
    for path in (png_path, svg_path):
        # Checked first, so that a typo in a path binds nothing.
        if path is not None and not os.access(path.resolve().parent, os.W_OK):
            fail(f"cannot write {path}: no such directory, or not writable", 2)
    reason = passes.check_reason(reason, N_("taking a rider's QR"))  # before any database work
    at = clock.now() if at is None else at
    with command_session() as (config, session):
        text = pass_actions.take_custodial_qr(session, cli_actor(), pass_id, reason, at=at,
                                              now=clock.now(), **_credential_settings(config))
    for path, render in ((png_path, qr.png), (svg_path, qr.svg)):
        if path is not None:
            path.write_bytes(render(text))
    click.echo(text)


@pass_.command("revoke")
@click.argument("pass_id")
@click.option("--reason", required=True, help="Why, for the record.")
def pass_revoke(pass_id: str, reason: str) -> None:
    """Revoke a pass and publish the denylist."""
    with command_session() as (config, session):
        now = clock.now()
        p, result = pass_actions.revoke(session, cli_actor(), pass_id, reason, now=now,
                                        redis_url=config["REDIS_URL"])
        _warn_unpublished(result)
        emit({**passes.as_dict(session, p), "published": result.ok})


@pass_.command("denylist")
def pass_denylist() -> None:
    """Print the denylist, in the format validators read."""
    with command_session() as (_, session):
        click.echo(passes.denylist(session, clock.now()).dumps())


# -- vexe keys -----------------------------------------------------------------------------

@click.group(cls=Group)
def keys() -> None:
    """The issuer's signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; older keys keep verifying until retired."""
    with command_session() as (config, session):
        now = clock.now()
        row, result = pass_actions.rotate_key(session, cli_actor(),
                                              sealing_key=config["SEALING_KEY"], now=now,
                                              redis_url=config["REDIS_URL"])
        _warn_unpublished(result)
        emit({**signing.as_dict(row, row.kid), "published": result.ok})


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Take a key out of the trust list (not the only active one)."""
    with command_session() as (config, session):
        now = clock.now()
        row, result = pass_actions.retire_key(session, cli_actor(), kid, now=now,
                                              redis_url=config["REDIS_URL"])
        current = signing.current(session)
        _warn_unpublished(result)
        emit({**signing.as_dict(row, current and current.kid), "published": result.ok})


@keys.command("list")
def keys_list() -> None:
    """List every key, oldest first; "active" marks the one that signs."""
    with command_session() as (_, session):
        current = signing.current(session)
        emit([signing.as_dict(row, current and current.kid) for row in signing.list_keys(session)])


@keys.command("jwks")
def keys_jwks() -> None:
    """Print the trust list, a JWKS of the keys not retired."""
    with command_session() as (_, session):
        click.echo(signing.trust_list(session).dumps())


commands = [init, publish_command, serve, db_group, route, network_group, account, pass_, keys,
            operator, audit_command]
