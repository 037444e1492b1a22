"""``/api/routes``: the network's bus routes (operator)."""

import flask

from issuer import auth, db, routes
from issuer.views import json_body, text_field
from shared import clock

bp = flask.Blueprint("routes", __name__, url_prefix="/api/routes")


@bp.post("")
@auth.operator_required
def add():
    data = json_body(required=("code", "name"))
    route = routes.add(db.get_session(), text_field(data, "code"), text_field(data, "name"),
                       now=clock.now())
    return routes.as_dict(route), 201


@bp.get("")
@auth.operator_required
def index():
    return {"routes": [routes.as_dict(r) for r in routes.list_routes(db.get_session())]}
