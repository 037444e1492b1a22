"""A phone's credential refresh in one round trip to PostgreSQL: the rider's token checked,
the pass locked and checked usable, its phone binding locked, the signing key's id read, the
credential recorded and the pass's ``credentials_until`` moved on, in one statement that
commits on its own (autocommit). It is the issuer's busiest request.

The pass is locked only when the token is its rider's: a caller with any other token holds
up nobody's refresh. The statement changes nothing unless every rule holds: the token is a
rider's and the pass is hers, her account stands at the level a pass needs, the pass is not
revoked and has not ended, it is bound to a phone (not a key the issuer holds), and a key
signs. It answers with what it read, so each refusal is told as the general path tells it
(:func:`issuer.passes.phones.refresh_credential`), in the same order.

Why it is as safe as locking in a transaction: the pass row is locked ``FOR NO KEY UPDATE``
and so is its active binding. A revocation, a move to another phone or a lost phone each
update the pass (and the binding), so this statement either runs before them (and they
wait for it) or after them, when PostgreSQL reads the rows again as they now are and the
rules refuse: a revoked pass or a retired binding gets no credential, on any worker of any
host, since every one of them asks the one database.

The rate of refreshes is counted on the pass row the statement locks and updates anyway, so
a refresh asks Redis nothing: GCRA (the generic cell rate algorithm) keeps one number, the
moment the pass's next refresh is due if it kept to the rate (``refresh_tat_ms``), on the
database's clock, so that hosts whose clocks disagree still count alike. A refresh
more than the burst ahead of it is refused and changes nothing; one within it moves it on by
the spacing. With a spacing of 3 s and a burst of 57 s that is 20 at once, then one every
3 s: 20 a minute over time, as the rate limiter counts the other doors (issuer.web.limits),
though after a full burst the next comes in 3 s rather than when the minute is out. Every
worker of every host counts on the same row.

The signing key's private half is unsealed once per process (issuer.passes.signing): which
key signs is read in the statement, so a rotation or retirement made by any process is
followed at the next refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from issuer.identity import accounts  # noqa: F401  (the tables the statement reads)
from issuer.passes import passes, phones
from issuer.platform import ids

# Written once as text, and compiled once into psycopg's own placeholders below: the hot path
# hands the driver its text and compiles nothing per request.
STATEMENT = sa.text("""
WITH clock AS (
    SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms
), rider AS (
    SELECT id FROM accounts WHERE rider_token_hash = :token_hash
), p AS (
    SELECT passes.id, passes.account_id, passes.product, passes.route_code, passes.category,
           passes.valid_from, passes.valid_until, passes.status, passes.refresh_tat_ms,
           accounts.identity_level, (SELECT kid FROM signing_keys WHERE retired_at IS NULL
            ORDER BY id DESC LIMIT 1) AS kid
    FROM passes JOIN accounts ON accounts.id = passes.account_id
    WHERE passes.id = :pass_id AND passes.account_id = (SELECT id FROM rider)
    FOR NO KEY UPDATE OF passes
), b AS (
    SELECT device_bindings.id AS binding_id, device_key, custodial FROM device_bindings
    WHERE pass_id = (SELECT id FROM p) AND retired_at IS NULL
    FOR NO KEY UPDATE
), usable AS (
    SELECT p.id, p.valid_until, p.kid, b.binding_id FROM p
    JOIN rider ON rider.id = p.account_id JOIN b ON NOT b.custodial
    WHERE p.identity_level >= :level AND p.status <> :revoked AND p.valid_until > :now
      AND p.kid IS NOT NULL AND p.refresh_tat_ms - (SELECT ms FROM clock) <= :burst_ms
), moved AS (
    UPDATE passes
    SET credentials_until = GREATEST(passes.credentials_until,
                                     LEAST(:now + :lifetime, usable.valid_until)),
        refresh_tat_ms = GREATEST(passes.refresh_tat_ms, (SELECT ms FROM clock)) + :spacing_ms
    FROM usable WHERE passes.id = usable.id
), logged AS (
    INSERT INTO credentials (jti, pass_id, binding_id, kid, nbf, exp)
    SELECT :jti, id, binding_id, kid, :now, LEAST(:now + :lifetime, valid_until) FROM usable
    ON CONFLICT (jti) DO NOTHING
    RETURNING jti
)
SELECT rider.id AS rider_id, p.*, b.*, (SELECT jti FROM logged) AS jti,
       (SELECT ms FROM clock) AS clock_ms,
       (SELECT later.id FROM passes AS later
        JOIN device_bindings AS lb ON lb.pass_id = later.id AND lb.retired_at IS NULL
             AND NOT lb.custodial AND lb.device_key = b.device_key
        WHERE p.valid_until - :now <= :ahead AND later.account_id = p.account_id
          AND later.valid_from = p.valid_until AND later.status = :active
        LIMIT 1) AS next_pass_id
FROM (SELECT 1) AS one LEFT JOIN rider ON true LEFT JOIN p ON true LEFT JOIN b ON true
""")


SQL = str(STATEMENT.compile(dialect=psycopg_dialect.dialect()))


@dataclass(frozen=True)
class Outcome:
    """What the statement saw: the rider (None: not a rider's token), her pass (None: no such
    pass of hers; nothing was locked), and the credential's id when one was recorded. When
    the pass was usable but its refreshes ran ahead of the rate, ``retry_after``: the seconds
    until one more is let through."""

    rider_id: str | None
    row: sa.Row | None
    jti: str | None
    retry_after: int | None = None


def run(conn: sa.Connection, pass_id: str, token: str, *, now: int, lifetime: int,
        spacing_ms: int, burst_ms: int) -> Outcome:
    """One round trip, on a connection in autocommit: the statement is its own transaction.
    ``spacing_ms`` and ``burst_ms``: the rate of refreshes a pass may have (see above)."""
    while True:
        jti = ids.new_jti()
        row = conn.exec_driver_sql(SQL, {
            "token_hash": ids.token_hash(token), "pass_id": pass_id, "now": now,
            "spacing_ms": spacing_ms, "burst_ms": burst_ms,
            "lifetime": lifetime, "jti": jti, "level": passes.HOLDING_LEVEL,
            "revoked": passes.REVOKED,
            "ahead": phones.NEXT_MONTH_AHEAD, "active": passes.ACTIVE}).one()
        if row.id is None or row.rider_id is None or row.rider_id != row.account_id:
            return Outcome(row.rider_id, row if row.id is not None else None, None)
        if row.jti is not None or not _usable(row, now):
            return Outcome(row.rider_id, row, row.jti)
        ahead = row.refresh_tat_ms - row.clock_ms - burst_ms
        if ahead > 0:
            return Outcome(row.rider_id, row, None, retry_after=-(-ahead // 1000))
        # The id was taken (the primary key refused it): nothing was recorded under it; the
        # pass's credentials_until moved on all the same, to the same value. Draw again.


def _usable(row: sa.Row, now: int) -> bool:
    return (row.identity_level >= passes.HOLDING_LEVEL and row.status != passes.REVOKED
            and row.valid_until > now and row.binding_id is not None and not row.custodial
            and row.kid is not None)
