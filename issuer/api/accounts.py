"""``/api/accounts``: rider accounts made by an administrator (for API clients and riders
without an e-ID sign-in). The rider token is in the answer once."""

import flask

from issuer.api import json_body, text_field
from issuer.identity import accounts, actions, operators
from issuer.platform import db
from issuer.platform.errors import Invalid
from issuer.web import auth
from shared import clock

bp = flask.Blueprint("accounts", __name__, url_prefix="/api/accounts")


@bp.post("")
@auth.require_roles(operators.ADMINISTRATOR)
def create():
    data = json_body(required=("full_name", "birth_date"),
                     optional=("national_id", "identity_level"))
    level = data.get("identity_level", 2)
    if type(level) is not int:
        raise Invalid("field 'identity_level' must be an integer")
    session = db.get_session()
    now = clock.now()
    account, token = actions.create_account(
        session, auth.caller(), text_field(data, "full_name"), text_field(data, "birth_date"),
        now=now, national_id=text_field(data, "national_id"),
        national_id_key=flask.current_app.config["NATIONAL_ID_KEY"], identity_level=level)
    return {**accounts.as_dict(account), "rider_token": token}, 201
