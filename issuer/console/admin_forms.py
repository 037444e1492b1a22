"""What every administrator's page does alike: who may open it, how a page is drawn, how a
refused action is said (in the request's language, what was typed kept), and what a
publication that did not reach the validators means."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.identity import operators
from issuer.web import auth
from issuer.web.language import said

ADMIN = operators.ADMINISTRATOR


def page(template: str, status: int = 200, **context):
    """A console page for the signed-in administrator; never kept by a browser or a proxy."""
    response = flask.make_response(flask.render_template(
        f"console/admin/{template}", operator=auth.caller(), **context), status)
    response.cache_control.no_store = True
    return response


def refused(exc) -> int:
    """Flash why an action was refused; the HTTP status the page answers with."""
    flask.flash(said(exc), "error")
    return getattr(exc, "status", 400)


def done(message: str, published=None) -> None:
    """Flash that an action was done, and whether the validators have heard of it yet."""
    flask.flash(message, "ok")
    if published is not None and not published.ok:
        flask.flash(_("Saved, but the validators have not been told yet: it is sent again with "
                      "the next change, or run “vexe publish”."), "error")


def form(*names: str) -> dict[str, str]:
    """The named fields as typed (trimmed, at most 500 characters), to act on and to show
    again when the action is refused."""
    return {name: flask.request.form.get(name, "").strip()[:500] for name in names}
