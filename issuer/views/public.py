"""Public endpoints: the trust list and the denylist validators may fetch, and a health check."""

import flask
import sqlalchemy as sa

from issuer import db, passes, signing
from shared import clock

bp = flask.Blueprint("public", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    response = flask.jsonify(signing.trust_list(db.get_session()).to_jwks())
    response.cache_control.max_age = 60  # a rotation reaches HTTP readers within a minute
    return response


@bp.get("/denylist.json")
def denylist():
    response = flask.jsonify(passes.denylist(db.get_session(), clock.now()).to_dict())
    response.cache_control.no_cache = True  # a revocation must be seen at once
    return response


@bp.get("/openapi.json")
def openapi():
    from issuer.openapi import DOCUMENT

    return DOCUMENT


@bp.get("/healthz")
def healthz():
    db.get_session().execute(sa.text("SELECT 1"))  # a database error answers 503
    return {"status": "ok"}
