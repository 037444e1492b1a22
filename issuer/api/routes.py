"""``/api/routes``: the network's bus routes (administrators add them; any operator lists)."""

import flask

from issuer.api import json_body, shapes
from issuer.identity import operators
from issuer.network import actions, routes
from issuer.platform import db
from issuer.web import auth
from shared import clock

bp = flask.Blueprint("routes", __name__, url_prefix="/api/routes")


@bp.post("")
@auth.require_roles(operators.ADMINISTRATOR)
def add():
    data = json_body(shapes.RouteRequest)
    session = db.get_session()
    now = clock.now()
    route = actions.add_route(session, auth.caller(), data.code, data.name, now=now)
    return routes.as_dict(route), 201


@bp.get("")
@auth.require_roles(*operators.ROLES)
def index():
    return {"routes": [routes.as_dict(r) for r in routes.list_routes(db.get_session())]}
