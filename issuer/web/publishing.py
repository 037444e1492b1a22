"""What a web face says of a publication that followed a change."""

from __future__ import annotations

import logging

import flask

from issuer.passes import publish
from issuer.passes.publish import Published

log = logging.getLogger(__name__)


def answer(published: Published) -> dict:
    """``{"published": true}``, or false with a warning: the change is saved either way, and
    the next publication (``vexe publish``, any later change) carries it."""
    if published.ok:
        return {"published": True}
    log.warning("change saved but not published: %s", published.error)
    return {"published": False, "warning": f"not published: {published.error}"}


def publish_now(session, now: float) -> dict:
    """Publish after a change a rider made (a phone replaced or reported lost), and say so.
    An operator's actions publish themselves (issuer.*.actions)."""
    return answer(publish.publish(session, flask.current_app.config["REDIS_URL"], now=now))
