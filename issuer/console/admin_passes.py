"""Passes, for administrators: find one by its id, its rider (account id or national ID
number) or its order; see it; revoke it with a reason, after a confirmation; restore one
revoked by mistake. The same services as ``vexe pass revoke`` and ``/api/passes``."""

from __future__ import annotations

import flask
import sqlalchemy as sa
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, form, page, refused
from issuer.identity import accounts
from issuer.passes import actions, catalogue, passes, revocation
from issuer.platform import db, vault
from issuer.platform.errors import Invalid, IssuerError
from issuer.platform.models import Account, Order, Pass
from issuer.web import auth, browser
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("admin_passes", __name__, url_prefix="/console/admin/passes")
bp.before_request(browser.protect_form)

# Why a pass is revoked: the reasons an operator picks from (issuer/passes/revocation.py).
REASONS = {r.code: r.staff for r in revocation.CHOICES}
LIMIT = 50


@bp.get("/")
@auth.require_roles(ADMIN)
def find():
    query = flask.request.args.get("q", "").strip()[:100]
    found: list[Pass] = []
    if query:
        try:
            found = _search(db.get_session(), query)
        except IssuerError as exc:
            return page("passes.html", refused(exc), q=query, found=[])
    return page("passes.html", q=query, found=found, searched=bool(query))


def _search(session, query: str) -> list[Pass]:
    """A pass id, an order id, an account id or a 12-digit national ID number."""
    if query.isdigit():
        if len(query) != 12:
            raise Invalid(N_("a national ID number has 12 digits"))
        key = flask.current_app.config["NATIONAL_ID_KEY"]
        owner = session.scalar(sa.select(Account.id).where(
            Account.national_id_hash == vault.national_id_hash(key, query)))
        where = Pass.account_id == owner
    else:
        code = query.upper()
        order_pass = sa.select(Order.pass_id).where(Order.id == code).scalar_subquery()
        where = sa.or_(Pass.id == code, Pass.account_id == code, Pass.id == order_pass)
    return list(session.scalars(sa.select(Pass).where(where)
                                .order_by(Pass.valid_from.desc(), Pass.id).limit(LIMIT)))


@bp.get("/<pass_id>")
@auth.require_roles(ADMIN)
def show(pass_id: str):
    return _pass_page(pass_id)


def _pass_page(pass_id: str, status: int = 200, typed: dict | None = None):
    session = db.get_session()
    p = passes.get(session, pass_id)
    year, month = clock.hanoi_month(p.valid_from)
    monthly = p.product != catalogue.FREE_PRODUCT  # a free pass runs for months
    return page("pass.html", status, pass_=passes.as_dict(session, p),
                month=f"{year:04d}-{month:02d}" if monthly else None,
                rider=accounts.get(session, p.account_id), reasons=REASONS,
                why=revocation.of_pass(p), typed=typed or {}, now=clock.now())


def _reason(typed: dict) -> str:
    """The chosen reason's code, checked with its note (revocation.check_choice)."""
    return revocation.check_choice(typed["reason"], typed["note"])[0].code


@bp.post("/<pass_id>/revoke")
@auth.require_roles(ADMIN)
def revoke(pass_id: str):
    """First the confirmation, then (``confirmed``) the revocation."""
    typed = form("reason", "note")
    try:
        reason = _reason(typed)
    except IssuerError as exc:
        return _pass_page(pass_id, refused(exc), typed)
    session = db.get_session()
    if flask.request.form.get("confirmed") != "yes":
        p = passes.get(session, pass_id)
        return page("confirm_pass.html", pass_=passes.as_dict(session, p),
                    rider=accounts.get(session, p.account_id), typed=typed, what="revoke",
                    reason_words=_(REASONS.get(typed["reason"], "")))
    now = clock.now()
    try:
        p, published = actions.revoke_with_reason(
            session, auth.caller(), pass_id, reason, typed["note"], now=now,
            redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        return _pass_page(pass_id, refused(exc), typed)
    done(_("Pass %(id)s is revoked.", id=p.id), published)
    return flask.redirect(flask.url_for("admin_passes.show", pass_id=p.id), 303)


@bp.post("/<pass_id>/restore")
@auth.require_roles(ADMIN)
def restore_(pass_id: str):
    typed = form("why")
    session = db.get_session()
    if not typed["why"]:
        return _pass_page(pass_id, refused(Invalid(N_("say why the pass is restored"))), typed)
    if flask.request.form.get("confirmed") != "yes":
        p = passes.get(session, pass_id)
        return page("confirm_pass.html", pass_=passes.as_dict(session, p),
                    rider=accounts.get(session, p.account_id), typed=typed, what="restore")
    try:
        p, published = actions.restore_pass(session, pass_id, auth.caller(), typed["why"],
                                            now=clock.now(),
                                            redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        return _pass_page(pass_id, refused(exc), typed)
    done(_("Pass %(id)s is valid again.", id=p.id), published)
    return flask.redirect(flask.url_for("admin_passes.show", pass_id=p.id), 303)
