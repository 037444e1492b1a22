"""``/api/keys``: the issuer's signing keys (administrator). Public facts only, never a private key."""

import flask

from issuer.identity import operators
from issuer.passes import actions, signing
from issuer.platform import db
from issuer.web import auth, publishing
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
    config = flask.current_app.config
    row, published = actions.rotate_key(session, auth.caller(), sealing_key=config["SEALING_KEY"],
                                        now=now, redis_url=config["REDIS_URL"])
    return {**signing.as_dict(row, row.kid), **publishing.answer(published)}, 201


@bp.post("/<kid>/retire")
@auth.require_roles(operators.ADMINISTRATOR)
def retire(kid: str):
    session = db.get_session()
    now = clock.now()
    row, published = actions.retire_key(session, auth.caller(), kid, now=now,
                                        redis_url=flask.current_app.config["REDIS_URL"])
    current = signing.current(session)
    return {**signing.as_dict(row, current and current.kid), **publishing.answer(published)}
