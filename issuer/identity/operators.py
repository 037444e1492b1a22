"""Operators: their roles, passwords and role-scoped API tokens.

Roles are ``clerk`` (counter payments), ``approver`` (free passes), ``administrator``
(routes, products, keys, operators and roles; may do everything) and ``analyst`` (read-only
ridership). A token carries one role; an operator signed in on the web has all of theirs.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from issuer.platform import ids
from issuer.platform.errors import Conflict, Invalid, NotFound
from shared.i18n import N_
from issuer.platform.models import Operator, OperatorToken

CLERK = "clerk"
APPROVER = "approver"
ADMINISTRATOR = "administrator"
ANALYST = "analyst"
ROLES = (CLERK, APPROVER, ADMINISTRATOR, ANALYST)
BOOTSTRAP = "bootstrap"  # the operator holding the token `vexe init` writes

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing a megabyte on every sign-in attempt is a denial of service

# Checked against when the username is unknown, so that a wrong name takes as long as a
# wrong password and the timing does not tell which names exist.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def check_roles(roles) -> list[str]:
    if isinstance(roles, str) or not roles:
        raise Invalid(N_("give one or more roles: %(roles)s"), roles=", ".join(ROLES))
    out = []
    for role in roles:
        if role not in ROLES:
            raise Invalid(N_("role must be one of %(roles)s, got %(got)s"), roles=", ".join(ROLES),
                          got=repr(role))
        if role not in out:
            out.append(role)
    return sorted(out, key=ROLES.index)


def check_username(username) -> str:
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise Invalid(N_("username must be 2 to 64 lower-case letters, digits, dots, dashes "
                         "or underscores, starting with a letter or digit"))
    return username


def _check_password(password) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(N_("password must be %(least)s to %(most)s characters"), least=MIN_PASSWORD,
                      most=MAX_PASSWORD)
    return password


def create(session: Session, username: str, roles, *, now: float,
           password: str | None = None) -> Operator:
    username = check_username(username)
    roles = check_roles(roles)
    password_hash = None if password is None else generate_password_hash(_check_password(password))
    if session.scalar(sa.select(Operator.id).where(Operator.username == username)):
        raise Conflict(N_("operator %(username)s already exists"), username=username)
    operator = Operator(username=username, password_hash=password_hash, roles=" ".join(roles),
                        created_at=int(now))
    session.add(operator)
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return operator


def get(session: Session, username: str) -> Operator:
    operator = None
    if isinstance(username, str):
        operator = session.scalar(sa.select(Operator).where(Operator.username == username))
    if operator is None:
        raise NotFound(N_("no operator %(username)s"), username=repr(username))
    return operator


def roles_of(operator: Operator) -> frozenset[str]:
    return frozenset(operator.roles.split())


def set_roles(session: Session, username: str, roles, *, now: float) -> Operator:
    """Replace an operator's roles; tokens for a role taken away stop working at once."""
    operator = get(session, username)
    roles = check_roles(roles)
    operator.roles = " ".join(roles)
    session.execute(sa.update(OperatorToken)
                    .where(OperatorToken.operator_id == operator.id,
                           OperatorToken.role.not_in(roles),
                           OperatorToken.revoked_at.is_(None))
                    .values(revoked_at=int(now)))
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return operator


def set_password(session: Session, username: str, password: str) -> Operator:
    operator = get(session, username)
    operator.password_hash = generate_password_hash(_check_password(password))
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return operator


def disable(session: Session, username: str, *, now: float) -> Operator:
    """No more sign-in, tokens or sessions for this operator; the audit trail keeps the name."""
    operator = get(session, username)
    if operator.disabled_at is not None:
        raise Conflict(N_("operator %(username)s is already disabled"), username=username)
    operator.disabled_at = int(now)
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return operator


def verify_password(session: Session, username: str, password: str) -> Operator | None:
    """The operator whose name and password these are, or None (same time either way)."""
    operator = None
    if isinstance(username, str) and isinstance(password, str) and len(password) <= MAX_PASSWORD:
        operator = session.scalar(sa.select(Operator).where(Operator.username == username))
    else:
        password = ""
    stored = operator.password_hash if operator is not None else None
    ok = check_password_hash(stored or _DUMMY_HASH, password)
    if operator is None or stored is None or not ok or operator.disabled_at is not None:
        return None
    return operator


def issue_token(session: Session, username: str, role: str, *, now: float) -> tuple[OperatorToken, str]:
    """A new API token for one of the operator's roles; returned once, kept as a hash."""
    operator = get(session, username)
    if operator.disabled_at is not None:
        raise Conflict(N_("operator %(username)s is disabled"), username=username)
    if role not in roles_of(operator):
        raise Invalid(N_("operator %(username)s does not have the role %(role)s "
                         "(has: %(roles)s)"), username=username, role=repr(role),
                      roles=", ".join(check_roles(roles_of(operator))))
    token = ids.new_token()
    row = OperatorToken(operator_id=operator.id, role=role, token_hash=ids.token_hash(token),
                        created_at=int(now))
    session.add(row)
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return row, token


def register_bootstrap_token(session: Session, token: str, *,
                             now: float) -> tuple[OperatorToken, bool]:
    """The token ``vexe init`` writes to ``operator.token``, as an administrator token of the
    operator ``bootstrap``: listed, and revoked by its id like any other. Returns the token's
    row and whether it was added now. A token already known, even revoked, is left as it is:
    running ``vexe init`` again never brings a revoked token back."""
    known = session.scalar(sa.select(OperatorToken)
                           .where(OperatorToken.token_hash == ids.token_hash(token)))
    if known is not None:
        return known, False
    operator = session.scalar(sa.select(Operator).where(Operator.username == BOOTSTRAP))
    if operator is None:
        operator = Operator(username=BOOTSTRAP, roles=ADMINISTRATOR, created_at=int(now))
        session.add(operator)
        session.flush()
    elif operator.disabled_at is not None or ADMINISTRATOR not in roles_of(operator):
        raise Conflict(N_("operator %(username)s is disabled or no administrator: "
                          "the bootstrap token is not registered"), username=BOOTSTRAP)
    row = OperatorToken(operator_id=operator.id, role=ADMINISTRATOR,
                        token_hash=ids.token_hash(token), created_at=int(now))
    session.add(row)
    session.commit()
    return row, True


def by_token(session: Session, token: str) -> tuple[Operator, str] | None:
    """The operator and the role a live token grants, or None."""
    row = session.execute(
        sa.select(Operator, OperatorToken.role)
        .join(OperatorToken, OperatorToken.operator_id == Operator.id)
        .where(OperatorToken.token_hash == ids.token_hash(token),
               OperatorToken.revoked_at.is_(None), Operator.disabled_at.is_(None))).first()
    if row is None:
        return None
    operator, role = row
    if role not in roles_of(operator):
        return None
    return operator, role


def revoke_token(session: Session, token_id: int, *, now: float) -> OperatorToken:
    row = session.get(OperatorToken, token_id) if isinstance(token_id, int) else None
    if row is None:
        raise NotFound(N_("no operator token %(id)s"), id=repr(token_id))
    if row.revoked_at is not None:
        raise Conflict(N_("operator token %(id)s is already revoked"), id=token_id)
    row.revoked_at = int(now)
    session.flush()  # committed with its audit entry (issuer.identity.actions)
    return row


def list_tokens(session: Session, username: str | None = None) -> list[dict]:
    """Every API token (of one operator, or all), oldest first: never the token or its hash."""
    query = (sa.select(OperatorToken, Operator.username)
             .join(Operator, Operator.id == OperatorToken.operator_id).order_by(OperatorToken.id))
    if username is not None:
        query = query.where(Operator.id == get(session, username).id)
    return [{"token_id": row.id, "username": name, "role": row.role,
             "created_at": row.created_at, "revoked_at": row.revoked_at}
            for row, name in session.execute(query)]


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(sa.select(Operator).order_by(Operator.username)))


def as_dict(operator: Operator) -> dict:
    """Never the password hash."""
    return {"username": operator.username, "roles": check_roles(roles_of(operator)),
            "password_set": operator.password_hash is not None,
            "disabled": operator.disabled_at is not None, "created_at": operator.created_at}
