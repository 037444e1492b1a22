"""The rider's pages: the start page with e-ID sign-in, the account (passes, their phones,
orders, applications), buying a monthly pass, free passes and reduced fares. Forms post to
these pages, which call the same services as the JSON API."""

from __future__ import annotations

import flask
import sqlalchemy as sa
from flask_babel import gettext as _

from issuer.identity import accounts
from issuer.sales import applications, orders
from issuer.web import auth, browser
from issuer.web.language import said
from issuer.rider import common
from issuer.passes import catalogue, phones, passes
from issuer.platform import db
from issuer.network import routes
from issuer.rider import reminders
from issuer.platform.errors import IssuerError
from issuer.platform.models import Account, Order, Pass
from shared import clock

bp = flask.Blueprint("rider_pages", __name__)
bp.before_request(browser.protect_form)
common.init(bp)


def _rider():
    return accounts.get(db.get_session(), auth.caller().account_id)


@bp.get("/")
def start():
    who = auth.current_caller() if flask.session.get(auth.SESSION_KEY) else None
    if who is not None and not who.is_operator:
        return flask.redirect(flask.url_for("rider_pages.home"))
    return flask.render_template("rider/start.html", rider=None)


@bp.get("/my/")
@auth.require_rider
def home():
    session = db.get_session()
    rider = _rider()
    held = session.scalars(sa.select(Pass).where(Pass.account_id == rider.id)
                           .order_by(Pass.valid_from.desc(), Pass.id)).all()
    return flask.render_template(
        "rider/home.html", rider=rider,
        may_hold=rider.identity_level >= passes.HOLDING_LEVEL,
        passes=[(passes.as_dict(session, p), phones.history(session, p.id)) for p in held],
        renewable={p.id for p in held if orders.renewable(
            session, p, now=clock.now(), open_day=flask.current_app.config["SALES_OPEN_DAY"])},
        orders=[orders.as_dict(session, o) for o in orders.of_account(session, rider.id)],
        applications=[applications.as_dict(a) for a in applications.of_account(session, rider.id)],
        categories={c["code"]: c for c in catalogue.as_dict(session)["categories"]},
        reminding=reminders.for_page(session, rider.id))


@bp.route("/my/buy", methods=["GET", "POST"])
@auth.require_rider
def buy():
    session = db.get_session()
    rider = _rider()
    if flask.request.method == "GET":
        return _buy_page(session, rider, {})
    form = {k: flask.request.form.get(k, "") for k in ("product", "route", "month", "category")}
    # A multi-route pass has no route: what the hidden field still sends is not a mistake.
    route = (form["route"] or None) if form["product"] == "single" else None
    # One rider's orders are placed one at a time, so a second press of the button finds the
    # order the first one made and lands on it: a write that changes nothing takes the
    # account's row lock (PostgreSQL) or the database's write lock (SQLite) until the commit.
    session.execute(sa.update(Account).where(Account.id == rider.id)
                    .values(created_at=Account.created_at))
    same = _pending_like(session, rider.id, form["product"], route, form["month"])
    if same is not None:
        session.rollback()
        flask.flash(_("Order %(id)s for this pass and month is already waiting for payment.",
                      id=same.id), "ok")
        return flask.redirect(flask.url_for("rider_payments.order_page", order_id=same.id), 303)
    try:
        order = orders.create(session, rider.id, form["product"], form["month"], now=clock.now(),
                              open_day=flask.current_app.config["SALES_OPEN_DAY"],
                              route=route, category=form["category"] or None,
                              expires_in=_order_expiry())
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return _buy_page(session, rider, form), exc.status
    flask.flash(_("Order %(id)s created.", id=order.id), "ok")
    return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id), 303)


def _pending_like(session, account_id: str, product: str, route: str | None, month: str):
    """The rider's order waiting for payment for this pass and month, if any."""
    return session.scalar(sa.select(Order).where(
        Order.account_id == account_id, Order.product == product, Order.month == month,
        Order.route_code.is_(None) if route is None else Order.route_code == route,
        Order.status == orders.PENDING,
        sa.or_(Order.expires_at.is_(None), Order.expires_at > int(clock.now()))))


def _order_expiry() -> int:
    return flask.current_app.config["ORDER_EXPIRY_MINUTES"] * 60


def _buy_page(session, rider, form: dict):
    """The form; after a refusal, with what the rider chose still chosen."""
    return flask.render_template(
        "rider/buy.html", rider=rider, catalogue=catalogue.as_dict(session), form=form,
        routes=routes.list_routes(session),
        months=orders.months_on_sale(clock.now(), flask.current_app.config["SALES_OPEN_DAY"]))


@bp.post("/my/passes/<pass_id>/renew")
@auth.require_rider
def renew(pass_id: str):
    """Renew for next month in one tap: an order for the same product, route and fare
    category as this pass, for the month after it; then its page, to pay."""
    session = db.get_session()
    p = passes.get(session, pass_id)
    auth.check_own_pass(p)
    try:
        order = orders.renew(session, p, now=clock.now(),
                             open_day=flask.current_app.config["SALES_OPEN_DAY"],
                             expires_in=_order_expiry())
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("rider_pages.home"), 303)
    flask.flash(_("Renewal order %(id)s created.", id=order.id), "ok")
    return flask.redirect(flask.url_for("rider_payments.order_page", order_id=order.id), 303)


@bp.route("/my/free", methods=["GET", "POST"])
@auth.require_rider
def free():
    session = db.get_session()
    rider = _rider()
    if flask.request.method == "POST":
        form = flask.request.form
        try:
            if form.get("action") == "grant":
                p = applications.grant_free_pass(session, rider.id, form.get("category", ""),
                                                 now=clock.now())
                flask.flash(_("Free pass %(id)s granted.", id=p.id), "ok")
            else:
                upload = flask.request.files.get("evidence")
                data = upload.read() if upload and upload.filename else None
                app_ = applications.apply(
                    session, rider.id, form.get("category", ""), form.get("evidence_note", ""),
                    now=clock.now(), evidence=data,
                    evidence_type=upload.mimetype if data is not None else None)
                flask.flash(_("Application %(id)s sent.", id=app_.id), "ok")
        except IssuerError as exc:
            session.rollback()
            flask.flash(said(exc), "error")
            return _free_page(session, rider, form), exc.status
        return flask.redirect(flask.url_for("rider_pages.home"))
    return _free_page(session, rider, {})


def _free_page(session, rider, form):
    return flask.render_template("rider/free.html", rider=rider, form=form,
                                 categories=catalogue.as_dict(session)["categories"])


@bp.post("/my/orders/<order_id>/cancel")
@auth.require_rider
def cancel(order_id: str):
    session = db.get_session()
    order = orders.get(session, order_id)
    orders.check_owner(order, auth.caller().account_id)
    orders.cancel(session, order.id, now=clock.now())
    session.commit()
    flask.flash(_("Order %(id)s cancelled.", id=order.id), "ok")
    return flask.redirect(flask.url_for("rider_pages.home"))


@bp.post("/my/passes/<pass_id>/lost-device")
@auth.require_rider
def lost_device(pass_id: str):
    from issuer.web.publishing import publish_now

    session = db.get_session()
    p = passes.get(session, pass_id)
    auth.check_own_pass(p)
    now = clock.now()
    try:
        phones.report_lost(session, p.id, flask.request.form.get("reason", ""), now=now)
        session.commit()
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("rider_pages.home"), 303)
    published = publish_now(session, now)
    flask.flash(_("The pass has left the lost phone.") if published["published"] else
                _("The pass has left the lost phone. The buses will know within minutes."),
                "ok")
    return flask.redirect(flask.url_for("rider_pages.home"))


@bp.get("/my/photo")
@auth.require_rider
def photo():
    rider = _rider()
    if rider.photo is None:
        flask.abort(404, "no photo")
    response = flask.make_response(rider.photo)
    response.content_type = "image/jpeg" if rider.photo[:3] == b"\xff\xd8\xff" else "image/png"
    return response
