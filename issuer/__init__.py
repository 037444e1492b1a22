"""The vexe issuer: accounts, passes, signing keys and credentials, over HTTP and ``vexe``.

Run it with ``vexe serve`` on a laptop, or ``gunicorn 'issuer:create_app()'`` for real.
"""

from __future__ import annotations

import logging

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

from issuer.platform import db, settings
from issuer.identity import oidc
from issuer.web import browser, language, monitoring

log = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> flask.Flask:
    app = flask.Flask(__name__, static_folder=None)  # pages carry their own small styles
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no request of this API comes near it
    app.config.from_mapping(test_config or {})  # Flask's own (TESTING) as given
    app.config.from_mapping(settings.load(test_config))  # vexe's: typed, checked
    db.refuse_unless_at_head(app.config["DATABASE_URL"])

    db.init_app(app)
    monitoring.init_app(app)  # first: its request id and clock start before any other check
    browser.init_app(app)
    language.init_app(app)  # before the faces: their pages and errors are in its language
    oidc.init_app(app)

    # The faces: the JSON API, the operators' console, the rider's pages and card.
    from issuer import api, console, rider

    api.register_error_handlers(app)
    for face in (api, console, rider):
        for blueprint in face.blueprints():
            app.register_blueprint(blueprint)

    from issuer import card

    card.init_app(app)
    _front(app)

    # Once every check has passed: a refused start says one line, its reason, and no more.
    log.info("issuer starting: %s", settings.start_line(app.config))
    return app


def _front(app: flask.Flask) -> None:
    """What stands in front of Flask, outermost first: the proxies' headers believed (the
    client's address for the rate limits, https for HSTS), then the lane that answers the
    requests phones make most (issuer.api.phone_lane)."""
    from issuer.api import phone_lane

    app.wsgi_app = phone_lane.PhoneLane(app.wsgi_app, app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
