"""What an administrator does with a cloned-pass alert, as one unit of work: the alert
closed, the pass revoked or kept, and the audit entry, in one transaction
(:func:`issuer.platform.audit.action`); the denylist published after commit when the pass was
revoked. The JSON API and the console call this function, never the pieces."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backoffice import clones
from backoffice.models import CloneAlert
from issuer.passes import publish, revocation
from issuer.passes.publish import Published
from issuer.platform import audit


def resolve_alert(session: Session, actor, alert_id: int, *, revoke: bool, now: float,
                  redis_url: str, code: str = revocation.CLONED_QR,
                  note: str | None = None) -> tuple[CloneAlert, Published | None]:
    """Revoke the alert's pass for ``code`` (a reason of issuer.passes.revocation, the
    operator's ``note`` kept with it), or dismiss the alert keeping the pass."""
    by = getattr(actor, "actor", actor)
    if revoke:
        reason, _ = revocation.check_choice(code, note)  # refused before anything changes
        note = (note or "").strip() or None

        def resolve(session, alert_id, *, by, now):
            return clones.revoke(session, alert_id, by=by, now=now, code=reason.code,
                                 note=note)
    else:
        resolve = clones.dismiss
    why = f"cloned-pass alert {alert_id}" + (f": {code}" if revoke else "")
    if revoke and note:
        why += f": {note}"
    with audit.action(session, actor, "alert.revoke" if revoke else "alert.dismiss", now=now,
                      reason=why) as entry:
        alert = resolve(session, alert_id, by=by, now=now)
        entry.target = f"pass:{alert.pass_id}"
    return alert, (publish.publish(session, redis_url, now=now) if revoke else None)
