"""Restoring a pass revoked by mistake: it is valid again, the audit log says who and why,
and the denylist validators read is published again without it.

A pass revoked because its order was refunded is not restored: the money went back, so the
pass would be free. Nor is a pass whose validity is over: there is nothing to ride on.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes import passes, publish
from issuer.passes.publish import Published
from issuer.platform import audit
from issuer.platform.errors import Conflict
from issuer.platform.models import Order, Pass
from shared.i18n import N_

REFUNDED = "refunded"  # issuer.sales.orders.REFUNDED (not imported: sales imports passes)


def restore_pass(session: Session, actor, pass_id: str, reason: str, *, now: float,
                 redis_url: str) -> tuple[Pass, Published]:
    """Make a revoked pass valid again; one unit of work with its audit entry, then publish."""
    reason = passes.check_reason(reason, "restoring a pass")
    with audit.action(session, actor, "pass.restore", now=now, target=pass_id) as entry:
        p = passes.get(session, pass_id, for_update=True)
        if p.status != passes.REVOKED:
            raise Conflict(N_("pass %(id)s is not revoked"), id=p.id)
        if p.valid_until <= now:
            raise Conflict(N_("pass %(id)s has run out: there is nothing to restore"), id=p.id)
        refunded = session.scalar(sa.select(Order.id).where(Order.pass_id == p.id,
                                                            Order.status == REFUNDED))
        if refunded is not None:
            raise Conflict(N_("pass %(id)s was refunded (order %(order)s): sell a new one"),
                           id=p.id, order=refunded)
        # The audit entry keeps what the revocation said, since the pass forgets it.
        entry.reason = f"{reason} (was revoked: {p.revoke_reason})"
        p.status, p.revoked_at, p.revoke_reason = passes.ACTIVE, None, None
    return p, publish.publish(session, redis_url, now=now)
