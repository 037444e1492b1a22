"""``/api/keys``: the issuer's signing keys (operator). Public facts only, never a private key."""

import flask

from issuer import auth, db, signing
from issuer.views import publish_now
from shared import clock

bp = flask.Blueprint("keys", __name__, url_prefix="/api/keys")


@bp.get("")
@auth.operator_required
def index():
    session = db.get_session()
    current = signing.current(session)
    return {"keys": [signing.as_dict(row, current and current.kid)
                     for row in signing.list_keys(session)]}


@bp.post("/rotate")
@auth.operator_required
def rotate():
    session = db.get_session()
    now = clock.now()
    row = signing.rotate(session, secret_key=flask.current_app.config["SECRET_KEY"], now=now)
    return {**signing.as_dict(row, row.kid), **publish_now(session, now)}, 201


@bp.post("/<kid>/retire")
@auth.operator_required
def retire(kid: str):
    session = db.get_session()
    now = clock.now()
    row = signing.retire(session, kid, now=now)
    current = signing.current(session)
    return {**signing.as_dict(row, current and current.kid), **publish_now(session, now)}
