"""Accounts from the national e-ID: the first sign-in creates the account from the identity
claims, later ones bring it up to date (a name corrected, a level raised to 2).

One person, one account: the national ID number (kept only as a keyed hash) finds the
account a second e-ID subject would duplicate, and that sign-in is refused.

Levels only go up. A level-1 e-ID is registered on the holder's word, not verified in
person: it never signs into an account of a higher level (a stranger typing someone's ID
number would take their passes), and the number it carries claims nothing, so it never
keeps the person's own level-2 e-ID out.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.identity import accounts
from issuer.platform import vault
from issuer.platform.errors import Conflict, Forbidden, Invalid
from shared.i18n import N_
from issuer.platform.models import Account

MAX_PHOTO = 512 * 1024


class LowerLevel(Forbidden):
    """An e-ID of a lower identity level than the account it would sign into."""

    vi = ("Tài khoản này đã được xác thực ở mức 2. Hãy đăng nhập bằng định danh điện tử "
          "mức 2 của chủ tài khoản.")


def subject_key(issuer: str, sub: str) -> str:
    return f"{issuer}|{sub}"


def account_from_claims(session: Session, *, issuer: str, claims: dict, photo: bytes | None,
                        national_id_key: str | None, now: float) -> Account:
    """The account of the person these verified claims describe, created if new."""
    arguments = dict(issuer=issuer, claims=claims, photo=photo, national_id_key=national_id_key, now=now)
    try:
        return _account_from_claims(session, **arguments)
    except (sa.exc.IntegrityError, Conflict):
        # Two first sign-ins of one person at once (two tabs, a double tap): the other one
        # created the account between our look-up and our insert. Look again: it is ours
        # if it carries this subject; another e-ID with the same national ID is refused
        # by this second look as by the first.
        session.rollback()
        return _account_from_claims(session, **arguments)


def _account_from_claims(session: Session, *, issuer: str, claims: dict, photo: bytes | None,
                         national_id_key: str | None, now: float) -> Account:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise Invalid(N_("the e-ID sent no usable subject"))
    name = claims.get("name")
    birthdate = claims.get("birthdate")
    level = claims.get("identity_level")
    if type(level) is not int or level not in accounts.IDENTITY_LEVELS:
        raise Invalid(N_("the e-ID sent identity level %(level)s; expected 1 or 2"),
                      level=repr(level))
    national_id = claims.get("national_id")
    if national_id is None and level >= 2:
        raise Invalid(N_("the e-ID sent no national ID number for a level-2 account"))
    subject = subject_key(issuer, sub)
    account = session.scalar(sa.select(Account).where(Account.oidc_subject == subject))
    id_hash = None
    if national_id is not None:
        if not (isinstance(national_id, str) and national_id.isdigit() and len(national_id) == 12):
            raise Invalid(N_("the e-ID sent a national ID number that is not 12 digits"))
        id_hash = vault.national_id_hash(national_id_key, national_id)
        holder = session.scalar(sa.select(Account).where(Account.national_id_hash == id_hash))
        if holder is not None and holder is not account:
            # Made by hand before the e-ID, or by this very subject a moment ago (its
            # subject is written just after the account): this sign-in's account.
            if account is not None or holder.oidc_subject not in (None, subject):
                raise Conflict(N_("an account for this national ID number already exists, "
                                  "signed in with another e-ID"))
            account = holder
    if account is not None and level < account.identity_level:
        raise LowerLevel(N_("this e-ID is level %(level)s and the account for this person is "
                            "level %(account_level)s: sign in with a level-%(account_level)s e-ID"),
                         level=level, account_level=account.identity_level)
    if level < accounts.VERIFIED_LEVEL:
        national_id = id_hash = None  # the holder's word: it claims no number
    if account is None:
        account, _ = accounts.create(session, name, birthdate, now=now, national_id=national_id,
                                     national_id_key=national_id_key, identity_level=level, photo=photo)
        account.oidc_subject = subject
        session.commit()
        return account
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
        raise Invalid(N_("full name must be 1 to 200 characters"))
    account.full_name = name.strip()
    account.birth_date = accounts.parse_birth_date(birthdate, now)
    account.identity_level = level
    account.oidc_subject = subject
    if id_hash is not None:
        account.national_id_hash = id_hash
    if photo is not None:
        account.photo = photo
    session.commit()
    return account
