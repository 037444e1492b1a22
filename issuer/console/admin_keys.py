"""The issuer's signing keys, for administrators: which signs, which still verifies, which
are retired; rotate and retire, each after a page that says what it does to riders. The same
services as ``vexe keys`` and ``/api/keys``."""

from __future__ import annotations

import flask
from flask_babel import gettext as _

from issuer.console.admin_forms import ADMIN, done, page, refused
from issuer.passes import actions, signing
from issuer.platform import db
from issuer.platform.errors import IssuerError, NotFound
from issuer.web import auth, browser
from shared import clock
from shared.i18n import N_

bp = flask.Blueprint("admin_keys", __name__, url_prefix="/console/admin/keys")
bp.before_request(browser.protect_form)

SIGNING, VERIFYING, RETIRED = "signing", "verifying", "retired"


def _keys(session) -> list[dict]:
    """Each key, oldest first, with its state and when the next key took over signing."""
    current = signing.current(session)
    rows = signing.list_keys(session)
    out = []
    for i, row in enumerate(rows):
        state = (RETIRED if row.retired_at is not None
                 else SIGNING if current is not None and row.kid == current.kid else VERIFYING)
        later = [r.created_at for r in rows[i + 1:] if r.retired_at is None]
        out.append({"kid": row.kid, "created_at": row.created_at, "retired_at": row.retired_at,
                    "state": state, "replaced_at": later[0] if later else None})
    return out


@bp.get("/")
@auth.require_roles(ADMIN)
def index():
    return page("keys.html", keys=_keys(db.get_session()))


@bp.get("/rotate")
@auth.require_roles(ADMIN)
def confirm_rotate():
    session = db.get_session()
    current = signing.current(session)
    return page("confirm_key.html", what="rotate", key=None,
                current=current.kid if current else None)


@bp.post("/rotate")
@auth.require_roles(ADMIN)
def rotate():
    session = db.get_session()
    config = flask.current_app.config
    try:
        row, published = actions.rotate_key(session, auth.caller(),
                                            sealing_key=config["SEALING_KEY"],
                                            now=clock.now(), redis_url=config["REDIS_URL"])
    except IssuerError as exc:
        refused(exc)
        return flask.redirect(flask.url_for("admin_keys.index"), 303)
    done(_("Key %(kid)s signs from now on.", kid=row.kid), published)
    return flask.redirect(flask.url_for("admin_keys.index"), 303)


def _key(session, kid: str) -> dict:
    for key in _keys(session):
        if key["kid"] == kid:
            return key
    raise NotFound(N_("no key %(kid)s among the signing keys"), kid=kid)


@bp.get("/<kid>/retire")
@auth.require_roles(ADMIN)
def confirm_retire(kid: str):
    session = db.get_session()
    key = _key(session, kid)
    lifetime = flask.current_app.config["CREDENTIAL_LIFETIME"]
    # A key stops signing when a newer one is made; what it signed lives one credential
    # lifetime more. Retiring it after that refuses nothing a rider still holds.
    last_alive = key["replaced_at"] + lifetime if key["replaced_at"] else None
    return page("confirm_key.html", what="retire", key=key, last_alive=last_alive,
                now=clock.now())


@bp.post("/<kid>/retire")
@auth.require_roles(ADMIN)
def retire(kid: str):
    session = db.get_session()
    try:
        row, published = actions.retire_key(session, auth.caller(), kid, now=clock.now(),
                                             redis_url=flask.current_app.config["REDIS_URL"])
    except IssuerError as exc:
        refused(exc)
        return flask.redirect(flask.url_for("admin_keys.index"), 303)
    done(_("Key %(kid)s is retired.", kid=row.kid), published)
    return flask.redirect(flask.url_for("admin_keys.index"), 303)
