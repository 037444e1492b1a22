"""A rider's own pass read in one round trip to PostgreSQL: her token, the pass and its
phone binding, in one statement sent in autocommit (no ``BEGIN``, no ``ROLLBACK``). A phone
looks at its pass often; the general path (issuer.api.passes ``show``) takes five exchanges
for the same answer.

The statement finds a row only when the token is a rider's and the pass is hers; for anything
else (an operator's token, another rider's pass, no such pass) it finds none, and the
general path answers, with its reasons.
"""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from issuer.passes import passes
from issuer.platform import ids
from issuer.platform.models import Account, DeviceBinding, Pass

STATEMENT = (
    sa.select(*Pass.__table__.c, DeviceBinding.device_key, DeviceBinding.custodial,
              DeviceBinding.created_at.label("bound_at"))
    .select_from(Account)
    .join(Pass, sa.and_(Pass.id == sa.bindparam("pass_id"), Pass.account_id == Account.id))
    .outerjoin(DeviceBinding, sa.and_(DeviceBinding.pass_id == Pass.id,
                                      DeviceBinding.retired_at.is_(None)))
    .where(Account.rider_token_hash == sa.bindparam("token_hash")))


def own_pass(conn: sa.Connection, pass_id: str, token: str) -> dict | None:
    """The pass as the API shows it (:func:`issuer.passes.passes.shown`), if ``token`` is the
    rider's whose pass it is; else None."""
    row = conn.execute(STATEMENT, {"pass_id": pass_id,
                                   "token_hash": ids.token_hash(token)}).first()
    if row is None:
        return None
    binding = None if row.device_key is None else SimpleNamespace(
        device_key=row.device_key, custodial=row.custodial, created_at=row.bound_at)
    return passes.shown(row, binding)
