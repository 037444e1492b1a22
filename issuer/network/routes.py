"""Bus routes of the network: what a single-route pass names."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.platform.errors import Conflict, Invalid, NotFound
from shared.i18n import N_
from issuer.platform.models import Route

# Hanoi route codes: "32", "E05A", "BRT01". Upper-case letters, digits and dashes; at most
# 16 characters, the length a credential's route claim allows.
CODE = re.compile(r"[0-9A-Z][0-9A-Z-]{0,15}")


def add(session: Session, code: str, name: str, *, now: float) -> Route:
    code = normalize_code(code)
    name = (name or "").strip()
    if not 0 < len(name) <= 200:
        raise Invalid(N_("route name must be 1 to 200 characters"))
    if session.get(Route, code) is not None:
        raise Conflict(N_("route %(route)s already exists"), route=code)
    route = Route(code=code, name=name, created_at=int(now))
    session.add(route)
    session.flush()  # the caller commits
    return route


def normalize_code(code: str) -> str:
    code = (code or "").strip().upper() if isinstance(code, str) else ""
    if not CODE.fullmatch(code):
        raise Invalid(N_("route code must be 1 to 16 letters, digits or dashes, got %(got)s"),
                      got=repr(code))
    return code


def get(session: Session, code: str) -> Route:
    route = session.get(Route, normalize_code(code))
    if route is None:
        raise NotFound(N_("no route %(route)s"), route=repr(code))
    return route


def list_routes(session: Session) -> list[Route]:
    return list(session.scalars(sa.select(Route).order_by(Route.code)))


def as_dict(route: Route) -> dict:
    return {"code": route.code, "name": route.name}
