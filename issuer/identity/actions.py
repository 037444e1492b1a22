"""What an administrator does to riders' accounts and to operators, as one unit of work
each: the change and its audit entry in one transaction (:func:`issuer.platform.audit.action`).
The command line and the JSON API call these functions, never the pieces."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from issuer.identity import accounts, operators
from issuer.platform import audit
from issuer.platform.models import Account, Operator, OperatorToken


def create_account(session: Session, actor, full_name: str, birth_date: str | dt.date, *,
                   now: float, national_id: str | None, national_id_key: str | None,
                   identity_level: int = 2) -> tuple[Account, str]:
    """A new account and its rider token (shown once)."""
    with audit.action(session, actor, "account.create", now=now) as entry:
        account, token = accounts.create(session, full_name, birth_date, now=now,
                                         national_id=national_id,
                                         national_id_key=national_id_key,
                                         identity_level=identity_level)
        entry.target = account.id
    return account, token


def create_operator(session: Session, actor, username: str, roles, *, now: float,
                    password: str | None = None) -> Operator:
    with audit.action(session, actor, "operator.create", now=now, target=username) as entry:
        made = operators.create(session, username, roles, now=now, password=password)
        entry.reason = f"roles: {made.roles}"
    return made


def issue_operator_token(session: Session, actor, username: str, role: str, *,
                         now: float) -> tuple[OperatorToken, str]:
    """A token for one of the operator's roles, returned this once."""
    with audit.action(session, actor, "operator.token", now=now, target=username) as entry:
        row, token = operators.issue_token(session, username, role, now=now)
        entry.reason = f"token {row.id}, role {role}"
    return row, token


def revoke_operator_token(session: Session, actor, token_id: int, *,
                          now: float) -> OperatorToken:
    with audit.action(session, actor, "operator.revoke_token", now=now, target=str(token_id)):
        return operators.revoke_token(session, token_id, now=now)


def set_operator_roles(session: Session, actor, username: str, roles, *,
                       now: float) -> Operator:
    with audit.action(session, actor, "operator.roles", now=now, target=username) as entry:
        changed = operators.set_roles(session, username, roles, now=now)
        entry.reason = f"roles: {changed.roles}"
    return changed


def set_operator_password(session: Session, actor, username: str, password: str, *,
                          now: float) -> Operator:
    with audit.action(session, actor, "operator.password", now=now, target=username):
        return operators.set_password(session, username, password)


def disable_operator(session: Session, actor, username: str, reason: str, *,
                     now: float) -> Operator:
    with audit.action(session, actor, "operator.disable", now=now, target=username,
                      reason=reason):
        return operators.disable(session, username, now=now)
