"""What an administrator does with a cloned-pass alert, as one unit of work: the alert
closed, the pass revoked or kept, and the audit entry, in one transaction
(:func:`issuer.platform.audit.action`); the denylist published after commit when the pass was
revoked. The JSON API and the console call this function, never the pieces."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backoffice import clones
from backoffice.models import CloneAlert
from issuer.passes import publish
from issuer.passes.publish import Published
from issuer.platform import audit


def resolve_alert(session: Session, actor, alert_id: int, *, revoke: bool, now: float,
                  redis_url: str) -> tuple[CloneAlert, Published | None]:
    """Revoke the alert's pass, or dismiss the alert keeping the pass."""
    resolve = clones.revoke if revoke else clones.dismiss
    with audit.action(session, actor, "alert.revoke" if revoke else "alert.dismiss", now=now,
                      reason=f"cloned-pass alert {alert_id}") as entry:
        alert = resolve(session, alert_id, by=getattr(actor, "actor", actor), now=now)
        entry.target = f"pass:{alert.pass_id}"
    return alert, (publish.publish(session, redis_url, now=now) if revoke else None)
