"""On the account page: the reminder to renew in a pass's last days, and the rider's e-mail
address for reminders by mail (issuer.sales.reminders)."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.identity import accounts
from issuer.platform import db
from issuer.platform.errors import IssuerError
from issuer.sales import reminders
from issuer.web import auth, browser
from issuer.web.language import said
from shared import clock

bp = flask.Blueprint("rider_reminders", __name__)
bp.before_request(browser.protect_form)


def for_page(session, account_id: str) -> list:
    """The rider's passes that end soon with no renewal held, for the account page."""
    return reminders.due_for(session, account_id, now=clock.now(),
                             days=flask.current_app.config["REMINDER_DAYS"])


@bp.post("/my/email")
@auth.require_rider
def set_email():
    session = db.get_session()
    account = accounts.get(session, auth.caller().account_id)
    try:
        reminders.set_email(session, account, flask.request.form.get("email", ""))
    except IssuerError as exc:
        session.rollback()
        flask.flash(said(exc), "error")
        return flask.redirect(flask.url_for("rider_pages.home") + "#reminders", 303)
    session.commit()
    flask.flash(_("Reminders will be e-mailed to %(address)s.", address=account.email)
                if account.email else _("No reminders by e-mail."), "ok")
    return flask.redirect(flask.url_for("rider_pages.home") + "#reminders", 303)
