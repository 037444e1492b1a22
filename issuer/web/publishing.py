"""Publishing after a change made through a web face, said in the answer."""

from __future__ import annotations

import logging

import flask

from issuer.passes import publish

log = logging.getLogger(__name__)


def publish_now(session, now: float) -> dict:
    """Publish to Redis after a change; the answer says whether it reached validators."""
    result = publish.publish(session, flask.current_app.config["REDIS_URL"], now=now)
    if result.ok:
        return {"published": True}
    log.warning("change saved but not published: %s", result.error)
    return {"published": False, "warning": f"not published: {result.error}"}
