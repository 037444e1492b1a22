"""What the payment services write about money: why a payment is held, how it was refunded,
what a notification came to, a line of the reconciliation. Each is a :class:`Reason`: a
code from :data:`MESSAGES` and its values.

A reason is stored twice: its English sentence (``payments.reason``,
``payment_notifications.outcome``), the record an auditor, the command line and the CSV
read and that never changes; and its code and values as JSON (``reason_args``,
``outcome_args``), from which a page says it in its reader's language (:func:`read`, then
``issuer.web.language.said``). A row written before the codes has only its sentence, shown
as it is.
"""

from __future__ import annotations

from issuer.platform.errors import IssuerError, Money, Named, Phrase, Word, localize
from shared.i18n import N_

# code -> the message, English, with its values as %(name)s. A code is stored in the
# database: never reuse one for another meaning; rewording a message is fine.
MESSAGES = {
    # why a payment is held, or did nothing (issuer.sales.settlement)
    "no_order": N_("the reference names no order"),
    "wrong_amount": N_("%(amount)s paid for order %(order)s, whose price is %(price)s"),
    "order_not_pending": N_("order %(order)s is %(status)s"),
    "order_expired": N_("order %(order)s expired before the money came"),
    "order_taken": N_("order %(order)s is no longer pending"),
    "pass_not_issued": N_("the pass could not be issued: %(error)s"),
    "declined": N_("the gateway reports the payment declined"),
    # what became of it
    "settled": N_("order %(order)s paid, pass %(pass_id)s"),
    "duplicate": N_("transaction %(txn)s already %(state)s"),
    "applied": N_("applied to order %(order)s"),
    "held_refunded_by_gateway": N_("%(note)s (gateway refund %(txn)s)"),
    "refunded_by_gateway": N_("%(amount)s refunded through the gateway (%(txn)s)"),
    "refund_owed": N_("%(amount)s to transfer back to the payer; a clerk records the "
                      "transfer"),
    "refund_transferred": N_("%(owed)s — transferred: %(note)s"),
    # what a notification came to (payment_notifications.outcome)
    "settlement": N_("%(result)s: %(detail)s"),
    "refused": N_("refused: %(error)s"),
    "bad_signature": N_("refused: the signature does not hold"),
    "bad_amount": N_("refused: the amount is not a number of dong"),
    "replay": N_("refused: a replay of a message already taken"),
    "not_json": N_("refused: not JSON"),
    "not_text": N_("refused: %(field)s is not text"),
    "other_account": N_("refused: another account"),
    "outgoing": N_("ignored: money going out"),
    "shown": N_("shown to the rider"),
    "gateway_answered": N_("gateway answered %(answer)s: %(message)s"),
    "not_paid": N_("transaction status %(status)s: nothing paid"),
    # the reconciliation's lines (issuer.sales.reconcile)
    "bad_signatures": N_("%(count)s with a bad signature"),
    "payment_held": N_("payment %(id)s held"),
    "notification_refused": N_("notification %(id)s: bad signature"),
    "notification_unsettled": N_("notification %(id)s: recorded, never settled"),
    "paid_without_payment": N_("order %(id)s paid without a payment"),
    "held_detail": N_("%(reference)s: %(reason)s"),
}


class Reason(str):
    """A sentence about money: ``str()`` is the English (what is stored and exported);
    :meth:`localized` says it in the reader's language. Its values may be :class:`Money`,
    :class:`Word`, an error or another reason: each is said in that language too."""

    def __new__(cls, code: str, /, *, text: str | None = None, **params):
        template = MESSAGES[code]
        if text is None:
            text = template % {k: str(v) for k, v in params.items()} if params else template
        reason = super().__new__(cls, text)
        reason.code, reason.template, reason.params = code, template, params
        return reason

    def localized(self, gettext) -> str:
        try:
            return localize(self.template, self.params, gettext)
        except (KeyError, TypeError, ValueError):  # a translation that no longer fits
            return str(self)

    def said(self, gettext) -> str:  # a reason inside another message
        return self.localized(gettext)

    def args(self) -> dict:
        """The code and values, for a JSON column."""
        return {"code": self.code, "values": {k: _encode(v) for k, v in self.params.items()}}


def args_of(reason: str) -> dict | None:
    """What the ``*_args`` column holds for ``reason``: None for words a person typed."""
    return reason.args() if isinstance(reason, Reason) else None


def read(text: str | None, args: dict | None) -> str | None:
    """What a row holds, as a :class:`Reason` when its code is known (said in the reader's
    language), else its stored sentence as it is (a row from before the codes)."""
    if text is None or not isinstance(args, dict) or args.get("code") not in MESSAGES:
        return text
    try:
        return Reason(args["code"], text=text, **_values(args))
    except (KeyError, TypeError, ValueError, AttributeError):  # values that no longer fit
        return text


def _values(args: dict) -> dict:
    return {k: _decode(v) for k, v in args["values"].items()}


class _Error:
    """An error kept inside a reason (``the pass could not be issued: …``), said again in
    the reader's language."""

    def __init__(self, template: str, params: dict):
        self.template, self.params = template, params

    def __str__(self) -> str:
        if not self.params:
            return self.template
        return self.template % {k: str(v) for k, v in self.params.items()}

    def said(self, gettext) -> str:
        return localize(self.template, self.params, gettext)


def _encode(value):
    if isinstance(value, Reason):
        return {"reason": value.args()}
    if isinstance(value, (IssuerError, _Error)):
        return {"error": value.template, "params": {k: _encode(v)
                                                    for k, v in value.params.items()}}
    if isinstance(value, Money):
        return {"vnd": int(value)}
    if isinstance(value, Word):
        return {"word": str(value), "kind": value.kind}
    if isinstance(value, Phrase):
        return {"phrase": str(value)}
    if isinstance(value, Named):
        return {"named": str(value), "names": value.names}
    return value if isinstance(value, (int, str)) else str(value)


def _decode(value):
    if not isinstance(value, dict):
        return value
    if "reason" in value:
        return Reason(value["reason"]["code"], **_values(value["reason"]))
    if "error" in value:
        return _Error(value["error"], {k: _decode(v) for k, v in value["params"].items()})
    if "vnd" in value:
        return Money(value["vnd"])
    if "word" in value:
        return Word(value["word"], value["kind"])
    if "phrase" in value:
        return Phrase(value["phrase"])
    if "named" in value:
        named = Named(value["named"])
        named.names = dict(value["names"])
        return named
    raise ValueError(f"not a stored value: {value!r}")
