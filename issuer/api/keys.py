"""``/api/keys``: the issuer's signing keys (administrator). Public facts only, never a private key."""

import flask

from issuer.platform import audit, db
from issuer.web import auth
from issuer.identity import operators
from issuer.passes import signing
from issuer.web.publishing import publish_now
from shared import clock

bp = flask.Blueprint("keys", __name__, url_prefix="/api/keys")


@bp.get("")
@auth.require_roles(operators.ADMINISTRATOR)
def index():
    session = db.get_session()
    current = signing.current(session)
    return {"keys": [signing.as_dict(row, current and current.kid)
                     for row in signing.list_keys(session)]}


@bp.post("/rotate")
@auth.require_roles(operators.ADMINISTRATOR)
def rotate():
    session = db.get_session()
    now = clock.now()
    with audit.action(session, auth.caller(), "key.rotate", now=now) as entry:
        row = signing.create(session, sealing_key=flask.current_app.config["SEALING_KEY"], now=now)
        entry.target = row.kid
    return {**signing.as_dict(row, row.kid), **publish_now(session, now)}, 201


@bp.post("/<kid>/retire")
@auth.require_roles(operators.ADMINISTRATOR)
def retire(kid: str):
    session = db.get_session()
    now = clock.now()
    with audit.action(session, auth.caller(), "key.retire", now=now, target=kid):
        row = signing.retire(session, kid, now=now)
    current = signing.current(session)
    return {**signing.as_dict(row, current and current.kid), **publish_now(session, now)}
