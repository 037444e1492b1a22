"""``/api/accounts``: rider accounts made by an administrator (for API clients and riders
without an e-ID sign-in). The rider token is in the answer once."""

import flask

from issuer.api import json_body, shapes
from issuer.identity import accounts, actions, operators
from issuer.platform import db
from issuer.web import auth
from shared import clock

bp = flask.Blueprint("accounts", __name__, url_prefix="/api/accounts")


@bp.post("")
@auth.require_roles(operators.ADMINISTRATOR)
def create():
    data = json_body(shapes.AccountRequest)
    session = db.get_session()
    now = clock.now()
    account, token = actions.create_account(
        session, auth.caller(), data.full_name, data.birth_date, now=now,
        national_id=data.national_id,
        national_id_key=flask.current_app.config["NATIONAL_ID_KEY"],
        identity_level=data.identity_level)
    return {**accounts.as_dict(account), "rider_token": token}, 201
