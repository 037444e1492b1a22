"""Fare categories a rider belongs to: free passes and reduced prices.

Where the category's rule is an age range alone, the date of birth from the e-ID decides and
a free pass is granted on request. Otherwise the rider applies with evidence and an approver
decides, with a reason the rider sees. An approval lasts the category's validity; a free
pass granted runs for the same months, and is renewed by asking again in its last month.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.passes import catalogue, passes
from issuer.platform import ids
from issuer.platform.errors import Conflict, Forbidden, Invalid, Named, NotFound, Word
from shared.i18n import N_
from issuer.platform.models import Application, FareCategory, Pass
from shared import clock

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
RENEW_WINDOW = 31 * 24 * 3600  # a free pass is renewed from a month before it ends
EVIDENCE_TYPES = ("image/png", "image/jpeg", "application/pdf")
MAX_EVIDENCE = 2 * 1024 * 1024
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff",
          "application/pdf": b"%PDF-"}


def grant_free_pass(session: Session, account_id: str, category: str, *, now: float) -> Pass:
    """A free pass for a category that the date of birth decides, e.g. 60 and over."""
    account = accounts.get(session, account_id)
    passes.check_may_hold(account)
    rule = catalogue.category(session, category, catalogue.FREE)
    if rule.needs_approval:
        raise Invalid(N_("category %(category)s needs evidence: apply, and an approver decides"),
                      category=Named(rule.code, rule))
    p = passes.issue(session, account.id, catalogue.FREE_PRODUCT, now=now,
                     month=_free_pass_start(session, account.id, rule.code, now),
                     category=rule.code)
    session.commit()
    return p


def _free_pass_start(session: Session, account_id: str, category: str, now: float) -> str:
    """This month, or the month after the rider's current free pass ends (a renewal).
    Conflict while that pass has more than a month left."""
    current = session.scalar(sa.select(Pass).where(
        Pass.account_id == account_id, Pass.product == catalogue.FREE_PRODUCT,
        Pass.category == category, Pass.status == passes.ACTIVE, Pass.valid_until > int(now))
        .order_by(Pass.valid_until.desc()).limit(1))
    if current is None:
        year, month = clock.hanoi_month(now)
    else:
        if current.valid_until - now > RENEW_WINDOW:
            raise Conflict(N_("free pass %(id)s runs until %(until)s; renew it in its last month"),
                           id=current.id, until=clock.iso(current.valid_until))
        year, month = clock.hanoi_month(current.valid_until)
    return f"{year:04d}-{month:02d}"


def apply(session: Session, account_id: str, category: str, evidence_note: str, *, now: float,
          evidence: bytes | None = None, evidence_type: str | None = None) -> Application:
    account = accounts.get(session, account_id)
    passes.check_may_hold(account)
    rule = catalogue.category(session, category)
    if not rule.needs_approval:
        raise Invalid(N_("category %(category)s follows from the date of birth: "
                         "ask for the free pass, no application is needed"),
                      category=Named(rule.code, rule))
    note = evidence_note.strip() if isinstance(evidence_note, str) else ""
    if not 0 < len(note) <= 1000:
        raise Invalid(N_("say what the evidence is (card or certificate number): "
                         "1 to 1000 characters"))
    _check_evidence(evidence, evidence_type)
    if rule.kind == catalogue.FREE:
        passes.check_free_not_blocked(session, account.id)
        _free_pass_start(session, account.id, rule.code, now)  # Conflict if one runs long
    if session.scalar(sa.select(Application.id).where(
            Application.account_id == account.id, Application.category == rule.code,
            Application.status == PENDING)):
        raise Conflict(N_("an application for %(category)s is already waiting for a decision"),
                       category=Named(rule.code, rule))
    application = Application(id=_free_id(session), account_id=account.id, category=rule.code,
                              evidence_note=note, evidence=evidence, evidence_type=evidence_type,
                              status=PENDING, created_at=int(now))
    session.add(application)
    session.commit()
    return application


def _check_evidence(evidence: bytes | None, evidence_type: str | None) -> None:
    if evidence is None:
        if evidence_type is not None:
            raise Invalid(N_("an evidence type without evidence"))
        return
    if evidence_type not in EVIDENCE_TYPES:
        raise Invalid(N_("evidence must be one of %(types)s"), types=", ".join(EVIDENCE_TYPES))
    if not 0 < len(evidence) <= MAX_EVIDENCE:
        raise Invalid(N_("evidence must be at most %(most)s MiB"),
                      most=MAX_EVIDENCE // (1024 * 1024))
    # What the browser says is checked against what the file is: an approver's browser
    # opens it, so an HTML page sent as "image/png" must not pass.
    if not evidence.startswith(_MAGIC[evidence_type]):
        raise Invalid(N_("the evidence is not a %(type)s file"), type=evidence_type)


def decide(session: Session, application_id: str, *, approve: bool, reason: str | None,
           decided_by: str, now: float) -> Application:
    """Approve (a free category: the pass is granted now) or reject (a reason is required:
    the rider reads it). The caller commits, with its audit entry."""
    application = get(session, application_id)
    if reason is not None or not approve:
        reason = passes.check_reason(reason, N_("a rejection") if not approve else N_("a decision"))
    if application.status != PENDING:
        raise Conflict(N_("application %(id)s is already %(status)s"), id=application.id,
                       status=Word(application.status, "application"))
    rule = session.get(FareCategory, application.category)
    values = {"status": APPROVED if approve else REJECTED, "decided_at": int(now),
              "decided_by": decided_by, "decision_reason": reason}
    if approve:
        year, month = clock.hanoi_month(now)
        if rule.kind == catalogue.FREE:
            start = _free_pass_start(session, application.account_id, rule.code, now)
            p = passes.issue(session, application.account_id, catalogue.FREE_PRODUCT,
                             now=now, month=start, category=rule.code)
            values["pass_id"], values["eligible_until"] = p.id, p.valid_until
        else:
            index = year * 12 + month - 1 + rule.validity_months
            values["eligible_until"] = clock.month_bounds(index // 12, index % 12 + 1)[0]
    result = session.execute(sa.update(Application)
                             .where(Application.id == application.id,
                                    Application.status == PENDING)
                             .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(N_("application %(id)s was decided meanwhile"), id=application.id)
    session.refresh(application)
    return application


def check_eligible(session: Session, account_id: str, category: str, *, at: float) -> None:
    """Forbidden unless an approval for ``category`` holds at ``at``."""
    held = session.scalar(sa.select(Application.id).where(
        Application.account_id == account_id, Application.category == category,
        Application.status == APPROVED, Application.eligible_until > int(at)))
    if held is None:
        raise Forbidden(N_("the reduced price for %(category)s needs an approved application "
                           "valid for that month"),
                        category=Named(category, session.get(FareCategory, category)))


def get(session: Session, application_id: str) -> Application:
    found = session.get(Application, application_id) if isinstance(application_id, str) else None
    if found is None:
        raise NotFound(N_("no application %(id)s"), id=repr(application_id))
    return found


def check_owner(application: Application, account_id: str) -> None:
    if application.account_id != account_id:
        raise Forbidden(N_("this application belongs to another account"))


def of_account(session: Session, account_id: str) -> list[Application]:
    return list(session.scalars(sa.select(Application)
                                .where(Application.account_id == account_id)
                                .order_by(Application.created_at.desc(), Application.id)))


def pending(session: Session, limit: int = 100) -> list[Application]:
    return list(session.scalars(sa.select(Application).where(Application.status == PENDING)
                                .order_by(Application.created_at, Application.id).limit(limit)))


def as_dict(application: Application) -> dict:
    return {"id": application.id, "account_id": application.account_id,
            "category": application.category, "evidence_note": application.evidence_note,
            "has_evidence": application.evidence is not None,
            "evidence_type": application.evidence_type, "status": application.status,
            "created_at": application.created_at, "decided_at": application.decided_at,
            "decided_by": application.decided_by,
            "decision_reason": application.decision_reason,
            "eligible_until": application.eligible_until, "pass_id": application.pass_id}


def _free_id(session: Session) -> str:
    while True:
        candidate = ids.new_id()
        if session.get(Application, candidate) is None:
            return candidate
