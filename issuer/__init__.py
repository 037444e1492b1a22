"""The vexe issuer: accounts, passes, signing keys and credentials, over HTTP and ``vexe``.

Run it with ``vexe serve`` on a laptop, or ``gunicorn 'issuer:create_app()'`` for real.
"""

from __future__ import annotations

import logging

import flask

from issuer import db, metrics, oidc, settings, web

log = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> flask.Flask:
    app = flask.Flask(__name__, static_folder=None)  # pages carry their own small styles
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no request of this API comes near it
    app.config.from_mapping(test_config or {})  # Flask's own (TESTING) as given
    app.config.from_mapping(settings.load(test_config))  # vexe's: typed, checked
    db.refuse_unless_at_head(app.config["DATABASE_URL"])

    db.init_app(app)
    metrics.init_app(app)  # first: its request id and clock start before any other check
    web.init_app(app)
    oidc.init_app(app)

    from issuer import views
    from issuer.views import (accounts, applications, approvals, audit_log, counter, keys, me,
                              operator_login, orders, passes, public, rider_login, rider_pages,
                              routes)

    views.register_error_handlers(app)
    for module in (public, routes, accounts, passes, keys, operator_login, me, orders,
                   applications, rider_login, rider_pages, counter, approvals, audit_log):
        app.register_blueprint(module.bp)

    from issuer.console import api as ridership_api
    from issuer.console import pages as ridership_pages

    app.register_blueprint(ridership_api.bp)
    app.register_blueprint(ridership_pages.bp)

    from issuer import card

    card.init_app(app)

    # Once every check has passed: a refused start says one line, its reason, and no more.
    log.info("issuer starting: %s", settings.start_line(app.config))
    return app
