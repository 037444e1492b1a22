"""What an operator does to passes and keys, each as one unit of work.

Each function makes the change and its audit entry in one transaction
(:func:`issuer.platform.audit.action`), then, once that is committed, publishes to Redis what
validators must know (the denylist, the trust list). The command line, the JSON API and the
console call these functions, never the pieces. Publishing is rebuilt whole from the
database, so a publication that failed is repaired by the next one (``vexe publish``); the
:class:`~issuer.passes.publish.Published` returned says whether it reached Redis.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from issuer.passes import passes, phones, publish, revocation, signing
from issuer.passes.publish import Published
from issuer.platform import audit
from issuer.platform.errors import Invalid
from issuer.platform.models import Pass, SigningKey
from shared.i18n import N_


def issue(session: Session, actor, account_id: str, product: str, *, now: float,
          route: str | None = None, month: str | None = None,
          category: str | None = None) -> Pass:
    with audit.action(session, actor, "pass.issue", now=now) as entry:
        issued = passes.issue(session, account_id, product, now=now, route=route, month=month,
                              category=category)
        entry.target = issued.id
    return issued


def revoke(session: Session, actor, pass_id: str, reason: str, *, now: float,
           redis_url: str, code: str = revocation.OTHER) -> tuple[Pass, Published]:
    """Revoke for ``code`` (issuer.passes.revocation) with the staff's text ``reason``."""
    with audit.action(session, actor, "pass.revoke", now=now, target=pass_id) as entry:
        revoked = passes.revoke(session, pass_id, reason, now=now, code=code)
        entry.reason = revoked.revoke_reason
    return revoked, publish.publish(session, redis_url, now=now)


def revoke_with_reason(session: Session, actor, pass_id: str, code: str, note: str | None, *,
                       now: float, redis_url: str) -> tuple[Pass, Published]:
    """An operator's revocation: a reason chosen from the list, and a note if any."""
    reason, text = revocation.check_choice(code, note)
    return revoke(session, actor, pass_id, text, now=now, redis_url=redis_url,
                  code=reason.code)


def restore_pass(session: Session, pass_id: str, operator, note: str | None, *, now: float,
                 redis_url: str) -> tuple[Pass, Published]:
    """Switch a pass revoked by mistake back on, audited with the operator's note; the
    denylist republished so validators accept it again."""
    note = _note(note, required=False)
    with audit.action(session, operator, "pass.restore", now=now, target=pass_id) as entry:
        was = passes.get(session, pass_id).revoke_reason
        restored = passes.restore(session, pass_id, now=now)
        # The audit entry keeps what the revocation said, since the pass forgets it.
        entry.reason = f"{note or revocation.MISTAKE} (was revoked: {was})"
    return restored, publish.publish(session, redis_url, now=now)


def allow_free_again(session: Session, actor, account_id: str, note: str | None, *,
                     now: float) -> list[Pass]:
    """A clerk's decision after a revocation for fraud: the account may have a free pass
    again. Audited with the clerk's note."""
    note = _note(note, required=True)
    with audit.action(session, actor, "account.allow_free_pass", now=now,
                      target=f"account:{account_id}", reason=note):
        return passes.allow_free_again(session, account_id, now=now)


def take_custodial_qr(session: Session, actor, pass_id: str, reason: str, *, at: float,
                      now: float, sealing_key: str | None, lifetime: int) -> str:
    """The rider's rotating QR, made by the issuer for the rider (a pass on no phone becomes
    custodial): an operator acting for the rider, audited with the operator's reason."""
    reason = passes.check_reason(reason, N_("taking a rider's QR"))
    with audit.action(session, actor, "pass.custodial_qr", now=now, target=pass_id,
                      reason=reason) as entry:
        text, bound = phones.ensure_custodial_qr(session, pass_id, at=at,
                                                 sealing_key=sealing_key, lifetime=lifetime)
        if bound:
            entry.action = "pass.custodial"
    return text


def rotate_key(session: Session, actor, *, sealing_key: str | None, now: float,
               redis_url: str) -> tuple[SigningKey, Published]:
    with audit.action(session, actor, "key.rotate", now=now) as entry:
        row = signing.create(session, sealing_key=sealing_key, now=now)
        entry.target = row.kid
    return row, publish.publish(session, redis_url, now=now)


def retire_key(session: Session, actor, kid: str, *, now: float,
               redis_url: str) -> tuple[SigningKey, Published]:
    with audit.action(session, actor, "key.retire", now=now, target=kid):
        row = signing.retire(session, kid, now=now)
    return row, publish.publish(session, redis_url, now=now)


def _note(note, *, required: bool) -> str:
    note = note.strip() if isinstance(note, str) else ""
    if required and not note:
        raise Invalid(N_("write a note saying why"))
    if len(note) > revocation.NOTE_MAX:
        raise Invalid(N_("the note is too long: at most %(max)s characters"),
                      max=revocation.NOTE_MAX)
    return note
