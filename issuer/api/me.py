"""``/api/me``: the signed-in rider's own account, passes, orders and applications."""

import flask
import sqlalchemy as sa

from issuer.identity import accounts
from issuer.sales import applications, orders, reminders
from issuer.web import auth
from issuer.platform import db
from issuer.passes import passes
from issuer.platform.models import Pass
from shared import clock

bp = flask.Blueprint("me", __name__, url_prefix="/api/me")


@bp.get("")
@auth.require_rider
def show():
    session = db.get_session()
    account = accounts.get(session, auth.caller().account_id)
    return {**accounts.as_dict(account),
            "may_hold_passes": account.identity_level >= passes.HOLDING_LEVEL,
            "signed_in_with_eid": account.oidc_subject is not None}


@bp.get("/photo")
@auth.require_rider
def photo():
    account = accounts.get(db.get_session(), auth.caller().account_id)
    if account.photo is None:
        flask.abort(404, "this account has no photo")
    response = flask.make_response(account.photo)
    response.content_type = "image/jpeg" if account.photo[:3] == b"\xff\xd8\xff" else "image/png"
    response.cache_control.private = True
    return response


@bp.get("/passes")
@auth.require_rider
def my_passes():
    """The rider's passes, each with what the card needs to remind her to renew it
    (``renewal``): the card fetches this list and decides from it offline."""
    session = db.get_session()
    rows = session.scalars(sa.select(Pass).where(Pass.account_id == auth.caller().account_id)
                           .order_by(Pass.valid_from.desc(), Pass.id))
    days, now = flask.current_app.config["REMINDER_DAYS"], clock.now()
    return {"passes": [{**passes.as_dict(session, p),
                        "renewal": reminders.renewal(session, p, now=now, days=days)}
                       for p in rows]}


@bp.get("/orders")
@auth.require_rider
def my_orders():
    session = db.get_session()
    return {"orders": [orders.as_dict(session, o)
                       for o in orders.of_account(session, auth.caller().account_id)]}


@bp.get("/applications")
@auth.require_rider
def my_applications():
    session = db.get_session()
    return {"applications": [applications.as_dict(a) for a in
                             applications.of_account(session, auth.caller().account_id)]}
