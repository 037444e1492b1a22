"""``/api/accounts``: rider accounts (operator). The rider token is in the answer once."""

import flask

from issuer import accounts, auth, db
from issuer.errors import Invalid
from issuer.views import json_body, text_field
from shared import clock

bp = flask.Blueprint("accounts", __name__, url_prefix="/api/accounts")


@bp.post("")
@auth.operator_required
def create():
    data = json_body(required=("full_name", "birth_date"),
                     optional=("national_id", "identity_level"))
    level = data.get("identity_level", 2)
    if type(level) is not int:
        raise Invalid("field 'identity_level' must be an integer")
    account, token = accounts.create(
        db.get_session(), text_field(data, "full_name"), text_field(data, "birth_date"),
        now=clock.now(), national_id=text_field(data, "national_id"),
        secret_key=flask.current_app.config["SECRET_KEY"], identity_level=level)
    return {**accounts.as_dict(account), "rider_token": token}, 201
