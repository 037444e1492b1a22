"""Rider accounts: the person a pass belongs to, and the rider's bearer token.

The token is shown once, when the account is created; only its hash is kept.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform import ids, vault
from issuer.platform.errors import Conflict, Invalid, NotFound
from shared.i18n import N_
from issuer.platform.models import Account
from shared import clock

IDENTITY_LEVELS = (1, 2)  # national e-ID account levels; level 2 is the verified one
VERIFIED_LEVEL = 2  # verified in person; level 1 is registered on the holder's word


def create(session: Session, full_name: str, birth_date: str | dt.date, *, now: float,
           national_id: str | None = None, national_id_key: str | None = None,
           identity_level: int = 2, photo: bytes | None = None) -> tuple[Account, str]:
    """Create an account; returns it with the rider token, which is never shown again. The
    caller commits."""
    full_name = full_name.strip() if isinstance(full_name, str) else ""
    if not 0 < len(full_name) <= 200:
        raise Invalid(N_("full name must be 1 to 200 characters"))
    born = parse_birth_date(birth_date, now)
    if identity_level not in IDENTITY_LEVELS:
        raise Invalid(N_("identity level must be one of %(levels)s"), levels=IDENTITY_LEVELS)
    id_hash = None
    if national_id is not None:
        if not (isinstance(national_id, str) and national_id.isdigit() and len(national_id) == 12):
            raise Invalid(N_("national ID number must be 12 digits"))
        id_hash = vault.national_id_hash(national_id_key, national_id)
        if session.scalar(sa.select(Account.id).where(Account.national_id_hash == id_hash)):
            raise Conflict(N_("an account for this national ID number already exists"))
    token = ids.new_token()
    account = Account(id=_free_id(session), full_name=full_name, birth_date=born, photo=photo,
                      identity_level=identity_level, national_id_hash=id_hash,
                      rider_token_hash=ids.token_hash(token), created_at=int(now))
    session.add(account)
    session.flush()
    return account, token


def parse_birth_date(value: str | dt.date, now: float) -> dt.date:
    born = value if isinstance(value, dt.date) else _iso_date(value)
    today = dt.datetime.fromtimestamp(now, clock.HANOI).date()
    if not dt.date(1900, 1, 1) <= born <= today:
        raise Invalid(N_("birth date %(date)s is not a plausible date of birth"),
                      date=born.isoformat())
    return born


def _iso_date(text: object) -> dt.date:
    # fromisoformat also takes "20260101" and week dates; the API promises YYYY-MM-DD only.
    if isinstance(text, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise Invalid(N_("birth date must be a date written YYYY-MM-DD, got %(got)s"), got=repr(text))


def age_on(account: Account, day: dt.date) -> int:
    born = account.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def get(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id) if isinstance(account_id, str) else None
    if account is None:
        raise NotFound(N_("no account %(id)s"), id=repr(account_id))
    return account


def by_token(session: Session, token: str) -> Account | None:
    # Looked up by hash: what is compared is a digest of a 256-bit random token, so the
    # lookup's timing tells an attacker nothing useful.
    return session.scalar(sa.select(Account).where(Account.rider_token_hash == ids.token_hash(token)))


def as_dict(account: Account) -> dict:
    """What the card shows, and no more: never the national ID hash or the token hash."""
    return {"id": account.id, "full_name": account.full_name,
            "birth_date": account.birth_date.isoformat(),
            "identity_level": account.identity_level, "has_photo": account.photo is not None,
            "created_at": account.created_at}


def _free_id(session: Session) -> str:
    while True:
        candidate = ids.new_id()
        if session.get(Account, candidate) is None:
            return candidate
