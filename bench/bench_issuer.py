"""Credential mints in-process against raw Ed25519 signing, measured in the same run.

    .venv/bin/python bench/bench_issuer.py [--number 500] [--repeat 7] [--database URL]

Three levels: the raw Ed25519 signature over a credential-sized message (the floor);
``shared.ticket.mint_credential`` (claims, JSON, base64url, the signature: what pyjwt adds);
and ``issuer.passes.phones.refresh_credential``, what ``POST /api/passes/<id>/credential`` does
inside the issuer: lock the pass (with its binding and the signing key's id), mint with the
signing key unsealed once per process, log the credential and commit. It also counts the
statements one refresh sends (HTTP adds the caller's token lookup). The database is SQLite in
a temporary directory unless --database names one (a PostgreSQL URL puts the bench in a
schema of its own and drops it after).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
import uuid
from pathlib import Path

import sqlalchemy as sa

from issuer.identity import accounts
from issuer import bootstrap
from issuer.platform import db, settings
from issuer.passes import phones, passes, signing
from issuer.network import routes
from shared import clock, keys, ticket


def per_call(fn, number: int, repeat: int) -> tuple[float, float]:
    runs = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="vexe-bench-issuer-"))
    url, schema = args.database, None
    if url and url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{url}?options=-csearch_path%3D{schema}"
    config = settings.load({"DATA_DIR": str(workdir), "DATABASE_URL": url or None})
    now = clock.now()
    bootstrap.init(config, now=now)
    secret = config["SEALING_KEY"]
    try:
        with db.session(config["DATABASE_URL"]) as session:
            routes.add(session, "32", "Giáp Bát – Nhổn", now=now)
            account, _ = accounts.create(session, "Nguyễn Văn An", "1990-04-12", now=now)
            p = passes.issue(session, account.id, "single", now=now, route="32")
            phone = keys.new_device_key()
            phones.bind_device(session, p.id, keys.device_public_compressed(phone), now=now,
                                sealing_key=secret)
            session.commit()
            private = signing.private_key(session, sealing_key=secret)
            credential = phones.refresh_credential(session, p.id, now=now,
                                                    sealing_key=secret).credential
            message = credential.rsplit(".", 1)[0].encode()

            raw = per_call(lambda: private.sign(message), args.number, args.repeat)
            mint = per_call(lambda: ticket.mint_credential(
                private, jti="AbCdEfGh", pass_id=p.id, product="S", routes=["32"],
                valid_from=p.valid_from, valid_until=p.valid_until,
                device_key=keys.device_public_compressed(phone), now=int(now)),
                args.number, args.repeat)
            refresh = per_call(lambda: (phones.refresh_credential(
                session, p.id, now=clock.now(), sealing_key=secret), session.commit()),
                max(args.number // 5, 20), args.repeat)
            statements = count_statements(db.engine(config["DATABASE_URL"]), lambda: (
                phones.refresh_credential(session, p.id, now=clock.now() + 1,
                                           sealing_key=secret), session.commit()))
    finally:
        db.dispose()
        if schema:
            with sa.create_engine(args.database).begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))

    print(f"database: {sa.make_url(config['DATABASE_URL']).get_backend_name()}")
    print(f"{'':52} {'median µs':>10} {'best µs':>9} {'per s':>8} {'× raw':>6}")
    for name, (median, best) in [("raw Ed25519 sign (baseline)", raw),
                                 ("mint_credential (claims, JSON, pyjwt, sign)", mint),
                                 ("refresh_credential (lock, mint, log, commit)",
                                  refresh)]:
        print(f"{name:52} {median:10.1f} {best:9.1f} {1e6 / median:8.0f} "
              f"{median / raw[0]:6.1f}")
    print(f"statements per refresh_credential: {len(statements)} and a commit")
    for statement in statements:
        print(f"  {statement}")


def count_statements(engine: sa.Engine, fn) -> list[str]:
    """The statements ``fn`` sends on ``engine``, each as its first 90 characters."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split())[:90])

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return sent


if __name__ == "__main__":
    main()
