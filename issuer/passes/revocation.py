"""Why a pass was revoked: the one list of reasons, each a code stored on the pass
(``passes.revoke_code``), words for the staff who choose it, words for the rider who reads it
and what the rider can do next.

The staff's free note stays in ``revoke_reason`` (and the audit log); the rider is told only
the words of the code. A pass revoked before reasons had codes has none: :func:`of_pass`
gives it :data:`OTHER`.

What follows a revocation depends on the reason:

- ``blocks_free``: the account gets no new free pass until a clerk allows it again
  (:func:`issuer.passes.passes.check_free_not_blocked`).
- ``restorable``: an operator may restore the pass (:func:`issuer.passes.actions.restore_pass`).

Any revoked monthly pass may be bought again for its month.
"""

from __future__ import annotations

from dataclasses import dataclass

from issuer.platform.errors import Invalid
from shared.i18n import N_


@dataclass(frozen=True)
class Reason:
    code: str
    staff: str      # what the staff choose, in a list (N_: translate where shown)
    rider: str      # what the rider is told happened
    todo: str       # what the rider can do now
    blocks_free: bool = False
    restorable: bool = False
    chosen: bool = True  # False: set by the system (a refund), never picked from a list


CLONED_QR = "cloned_qr"
SHARED_PASS = "shared_pass"
FRAUD = "fraud"
LOST_PHONE = "lost_phone"
MISTAKE = "mistake"
REFUND = "refund"
OTHER = "other"

REASONS: dict[str, Reason] = {r.code: r for r in (
    Reason(CLONED_QR, N_("Copied QR code (the same pass used in two places at once)"),
           N_("Your pass's QR code was used in two places at the same time, so it was "
              "switched off to protect you."),
           N_("Call the hotline to check your pass and get a new one."),
           blocks_free=True),
    Reason(SHARED_PASS, N_("Pass shared with another person"),
           N_("Your pass was used by someone else; a pass is for its holder only."),
           N_("Call the hotline if you think this is wrong."),
           blocks_free=True),
    Reason(FRAUD, N_("Fraud (false papers or false details)"),
           N_("Your pass was switched off because the details given for it were found "
              "to be false."),
           N_("Call the hotline or come to a sales counter with your papers."),
           blocks_free=True),
    Reason(LOST_PHONE, N_("Lost or stolen phone (asked by the rider)"),
           N_("Your pass was switched off because you told us your phone was lost or "
              "stolen."),
           N_("Come to a sales counter or call the hotline to get your pass on a new phone.")),
    Reason(MISTAKE, N_("Revoked by mistake"),
           N_("Your pass was switched off by mistake."),
           N_("Call the hotline: your pass will be switched on again, or you can buy it "
              "again for the same month."),
           restorable=True),
    Reason(REFUND, N_("Refunded"),
           N_("Your pass was refunded, so it no longer works."),
           N_("You can buy a new pass at any time."),
           chosen=False),
    Reason(OTHER, N_("Other (say why in the note)"),
           N_("Your pass was switched off by the operator."),
           N_("Call the hotline to ask why.")),
)}

# The reasons an operator picks from, in the order shown.
CHOICES: tuple[Reason, ...] = tuple(r for r in REASONS.values() if r.chosen)
BLOCKS_FREE: tuple[str, ...] = tuple(r.code for r in REASONS.values() if r.blocks_free)

NOTE_MAX = 400  # the stored reason is "<code>: <note>", within the column's 500


def get(code: str | None) -> Reason:
    """The reason of ``code``; :class:`Invalid` when there is no such reason."""
    found = REASONS.get(code) if isinstance(code, str) else None
    if found is None:
        raise Invalid(N_("choose a reason for the revocation from the list"))
    return found


def check_choice(code: str | None, note: str | None) -> tuple[Reason, str]:
    """An operator's choice: a listed reason (not one the system sets) and an optional note
    (required for "other"). Returns the reason and the text kept in ``revoke_reason``."""
    reason = get(code)
    if not reason.chosen:
        raise Invalid(N_("choose a reason for the revocation from the list"))
    note = (note or "").strip() if isinstance(note, str) or note is None else ""
    if len(note) > NOTE_MAX:
        raise Invalid(N_("the note is too long: at most %(max)s characters"), max=NOTE_MAX)
    if reason.code == OTHER and not note:
        raise Invalid(N_("say why in the note when the reason is \"other\""))
    return reason, text(reason, note)


def text(reason: Reason, note: str | None = None) -> str:
    """What ``revoke_reason`` keeps: the code, and the operator's note if any."""
    return f"{reason.code}: {note}" if note else reason.code


def of_pass(p) -> Reason | None:
    """Why ``p`` (a Pass or its dict) was revoked; None when it is not revoked."""
    status = p.get("status") if isinstance(p, dict) else p.status
    if status != "revoked":
        return None
    code = p.get("revoke_code") if isinstance(p, dict) else p.revoke_code
    return REASONS.get(code) or REASONS[OTHER]
