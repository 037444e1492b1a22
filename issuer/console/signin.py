"""``/console/login`` and ``/console/logout``: operators sign in on the web.

Five wrong passwords for one username within 15 minutes lock that username out for the
rest of the 15 minutes; each failure is in the audit log, which is what is counted.
"""

from __future__ import annotations

import flask
from flask_babel import gettext as _
import sqlalchemy as sa

from issuer.platform import audit, db, metrics
from issuer.web import auth, limits, browser
from issuer.identity import operators
from issuer.platform.models import AuditEntry
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("operator_login", __name__, url_prefix="/console")
bp.before_request(browser.protect_form)

FAILED = "operator.sign_in_failed"
LOCKOUT_WINDOW = 15 * 60
LOCKOUT_FAILURES = 5

# The console's menu: (endpoint, role, label). A link shows when its page is registered and
# the operator has the role; the label is English, translated where shown (``_(label)``).
CONSOLE_LINKS = [
    ("counter.orders", operators.CLERK, N_("Counter")),
    ("console_payments.held", operators.CLERK, N_("Held payments")),
    ("approvals.index", operators.APPROVER, N_("Free-pass approvals")),
    ("approvals.held", operators.CLERK, N_("Held accounts")),
    ("console_help.queue", operators.CLERK, N_("Help requests")),
    ("ridership_console.dashboard", operators.ANALYST, N_("Ridership")),
    ("ridership_console.settlement", operators.ANALYST, N_("Settlement per bus company")),
    ("admin_passes.find", operators.ADMINISTRATOR, N_("Passes")),
    ("admin_keys.index", operators.ADMINISTRATOR, N_("Signing keys")),
    ("admin_audit.index", operators.ADMINISTRATOR, N_("Audit log")),
    ("admin_operators.index", operators.ADMINISTRATOR, N_("Operators")),
    ("admin_network.index", operators.ADMINISTRATOR, N_("Routes, companies and vehicles")),
    ("admin_catalogue.index", operators.ADMINISTRATOR, N_("Products and fares")),
]


@bp.app_context_processor
def console_context() -> dict:
    def console_links():
        who = flask.g.get("caller")
        if who is None or not who.is_operator:
            return []
        return [(flask.url_for(endpoint), label) for endpoint, role, label in CONSOLE_LINKS
                if endpoint in flask.current_app.view_functions and who.has_role(role)]

    return {"console_links": console_links}


@bp.route("/login", methods=["GET", "POST"])
@limits.sign_in
def login():
    next_url = browser.safe_next(flask.request.args.get("next"), flask.url_for("operator_login.home"))
    if flask.request.method == "GET":
        return flask.render_template("console/login.html", next=next_url, username="")
    username = flask.request.form.get("username", "").strip()
    password = flask.request.form.get("password", "")
    session = db.get_session()
    now = clock.now()
    if _locked_out(session, username, now):
        metrics.signed_in(metrics.OPERATOR, ok=False)
        flask.flash(_("Too many failed sign-ins; try again in %(minutes)s minutes.",
                      minutes=LOCKOUT_WINDOW // 60), "error")
        return flask.render_template("console/login.html", next=next_url, username=username), 429
    operator = operators.verify_password(session, username, password)
    if operator is None:
        metrics.signed_in(metrics.OPERATOR, ok=False)
        if username:
            audit.event(session, "anonymous", FAILED, target=username[:64], now=now)
        flask.flash(_("Wrong username or password."), "error")
        return flask.render_template("console/login.html", next=next_url, username=username), 401
    auth.sign_in(operator=operator)
    metrics.signed_in(metrics.OPERATOR, ok=True)
    audit.event(session, operator.username, "operator.sign_in", target=operator.username,
                now=now)
    return flask.redirect(next_url)


def _locked_out(session, username: str, now: float) -> bool:
    failures = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == FAILED, AuditEntry.target == username[:64],
        AuditEntry.at > int(now) - LOCKOUT_WINDOW))
    return failures >= LOCKOUT_FAILURES


@bp.post("/logout")
def logout():
    who = auth.current_caller()
    if who is not None and who.is_operator and who.via == "session":
        audit.event(db.get_session(), who, "operator.sign_out", target=who.username,
                    now=clock.now())
    auth.sign_out()
    flask.flash(_("Signed out."), "ok")
    return flask.redirect(flask.url_for("operator_login.login"))


@bp.get("/")
@auth.require_roles(*operators.ROLES)
def home():
    return flask.render_template("console/home.html", operator=auth.caller())
