"""Bus companies and their vehicles: who is paid for the trips a vehicle carried."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.errors import Conflict, Invalid, NotFound, Phrase
from shared.i18n import N_
from issuer.platform.models import Company, Vehicle

COMPANY_CODE = re.compile(r"[0-9A-Z][0-9A-Z_-]{0,15}")
# Vietnamese plates, "29B-123.45", or a depot number: letters, digits, dot and dash.
VEHICLE_CODE = re.compile(r"[0-9A-Z][0-9A-Z.-]{0,31}")


def _code(value, pattern: re.Pattern, what: str) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if not pattern.fullmatch(code):
        raise Invalid(N_("%(what)s must match %(pattern)s, got %(got)s"), what=Phrase(what),
                      pattern=pattern.pattern, got=repr(value))
    return code


def add_company(session: Session, code: str, name: str, *, now: float) -> Company:
    code = _code(code, COMPANY_CODE, N_("company code"))
    name = name.strip() if isinstance(name, str) else ""
    if not 0 < len(name) <= 200:
        raise Invalid(N_("company name must be 1 to 200 characters"))
    if session.get(Company, code) is not None:
        raise Conflict(N_("company %(company)s already exists"), company=code)
    company = Company(code=code, name=name, created_at=int(now))
    session.add(company)
    session.flush()  # the caller commits, with its audit entry (network.actions)
    return company


def add_vehicle(session: Session, code: str, company: str, *, now: float) -> Vehicle:
    code = _code(code, VEHICLE_CODE, N_("vehicle code"))
    owner = get_company(session, company)
    if session.get(Vehicle, code) is not None:
        raise Conflict(N_("vehicle %(vehicle)s already exists"), vehicle=code)
    vehicle = Vehicle(code=code, company_code=owner.code, created_at=int(now))
    session.add(vehicle)
    session.flush()  # the caller commits, with its audit entry (network.actions)
    return vehicle


def get_company(session: Session, code: str) -> Company:
    company = session.get(Company, code.strip().upper()) if isinstance(code, str) else None
    if company is None:
        raise NotFound(N_("no company %(company)s"), company=repr(code))
    return company


def companies(session: Session) -> list[Company]:
    return list(session.scalars(sa.select(Company).order_by(Company.code)))


def vehicles(session: Session, company: str | None = None) -> list[Vehicle]:
    query = sa.select(Vehicle).order_by(Vehicle.code)
    if company is not None:
        query = query.where(Vehicle.company_code == get_company(session, company).code)
    return list(session.scalars(query))


def company_dict(company: Company) -> dict:
    return {"code": company.code, "name": company.name}


def vehicle_dict(vehicle: Vehicle) -> dict:
    return {"code": vehicle.code, "company": vehicle.company_code}
