"""A custodial pass's QR in one round trip to PostgreSQL: the rider's token checked, the pass
and its binding read, the signing key's id read, and the rate of QRs counted on the pass, in
one statement that commits on its own (autocommit). A rider without a phone that holds a key
fetches her QR every rotation (30 s) while she shows it: after the refresh, the issuer's
busiest request.

The statement changes nothing unless the token is the pass's rider's, her account stands at
the level a pass needs, the pass is not revoked and its binding is the issuer's key. Then it
counts the QR on the pass as the refresh counts a refresh (GCRA on ``refresh_tat_ms``, on the
database's clock: issuer.passes.refresh), with the same rate, 20 a minute. A custodial pass
takes no refresh (the refresh refuses it before counting), so the column counts its QRs alone.

What it read is enough to make the QR when the credential stored with the binding is still
good and was signed by the key that signs now (:func:`issuer.passes.phones.qr_from_stored`);
otherwise the general path renews the credential under a lock
(:func:`issuer.passes.phones.custodial_qr`), and says why in the usual order when it can't.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from issuer.passes import passes
from issuer.platform import ids

STATEMENT = sa.text("""
WITH clock AS (
    SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms
), p AS (
    SELECT passes.id, passes.account_id, passes.status, passes.valid_until, passes.refresh_tat_ms,
           accounts.identity_level, (SELECT kid FROM signing_keys WHERE retired_at IS NULL
            ORDER BY id DESC LIMIT 1) AS kid
    FROM passes JOIN accounts ON accounts.id = passes.account_id
    WHERE passes.id = :pass_id AND accounts.rider_token_hash = :token_hash
    FOR NO KEY UPDATE OF passes
), b AS (
    SELECT custodial, credential, sealed_private_key FROM device_bindings
    WHERE pass_id = (SELECT id FROM p) AND retired_at IS NULL
), counted AS (
    UPDATE passes
    SET refresh_tat_ms = GREATEST(passes.refresh_tat_ms, (SELECT ms FROM clock)) + :spacing_ms
    FROM p JOIN b ON b.custodial
    WHERE passes.id = p.id AND p.identity_level >= :level AND p.status <> :revoked
      AND p.refresh_tat_ms - (SELECT ms FROM clock) <= :burst_ms
    RETURNING passes.id
)
SELECT p.*, b.*, (SELECT ms FROM clock) AS clock_ms, (SELECT id FROM counted) AS counted
FROM p LEFT JOIN b ON true
""")

SQL = str(STATEMENT.compile(dialect=psycopg_dialect.dialect()))


@dataclass(frozen=True)
class Outcome:
    """What the statement saw: the pass and its binding (``row``; None when the token is not
    the rider's of such a pass), whether this QR was counted, and when it ran ahead of the
    rate, ``retry_after``: the seconds until one more is let through."""

    row: sa.Row | None
    counted: bool
    retry_after: int | None = None


def run(conn: sa.Connection, pass_id: str, token: str, *, spacing_ms: int,
        burst_ms: int) -> Outcome:
    """One round trip, on a connection in autocommit: the statement is its own transaction."""
    row = conn.exec_driver_sql(SQL, {
        "token_hash": ids.token_hash(token), "pass_id": pass_id, "spacing_ms": spacing_ms,
        "burst_ms": burst_ms, "level": passes.HOLDING_LEVEL,
        "revoked": passes.REVOKED}).first()
    if row is None or row.counted is not None:
        return Outcome(row, row is not None)
    ahead = row.refresh_tat_ms - row.clock_ms - burst_ms
    usable = (row.custodial and row.identity_level >= passes.HOLDING_LEVEL
              and row.status != passes.REVOKED)
    if usable and ahead > 0:
        return Outcome(row, False, retry_after=-(-ahead // 1000))
    return Outcome(row, False)
