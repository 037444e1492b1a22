"""Public endpoints: the trust list and the denylist validators may fetch, and the health
checks (docs/operations.md, "Health checks")."""

import flask
import redis
import sqlalchemy as sa

from issuer.platform import db
from issuer.passes import passes, signing
from issuer.api import DATABASE_RETRY_AFTER
from shared import clock, redis_client

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
    from issuer.api.openapi import DOCUMENT

    return DOCUMENT


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. No dependency is checked, so a database or Redis outage
    never gets a healthy server restarted (that is /readyz's to say)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and is at this version's schema, and Redis
    answers. 200 with each check, or 503 naming what failed; no error's text (addresses,
    user names) is shown."""
    config = flask.current_app.config
    checks = {"database": _database(config["DATABASE_URL"]), "redis": _redis(config["REDIS_URL"])}
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if not failed:
        return {"status": "ready", "checks": checks}
    body = {"status": "not ready", "failed": failed, "checks": checks}
    return body, 503, {"Retry-After": str(DATABASE_RETRY_AFTER)}


def _database(url: str) -> str:
    try:
        status = db.schema_status(url)
    except sa.exc.SQLAlchemyError:
        return "unavailable"
    if status["up_to_date"]:
        return "ok"
    return f"schema at revision {status['current']}, this version needs {status['head']}"


def _redis(url: str) -> str:
    client = redis_client.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
        return "ok"
    except redis.RedisError:
        return "unavailable"
    finally:
        client.close()
