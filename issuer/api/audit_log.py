"""``/api/audit``: the audit log (administrator)."""

import flask

from issuer.platform import audit, db
from issuer.web import auth
from issuer.identity import operators
from issuer.platform.errors import Invalid

bp = flask.Blueprint("audit_log", __name__, url_prefix="/api/audit")


@bp.get("")
@auth.require_roles(operators.ADMINISTRATOR)
def index():
    args = flask.request.args
    try:
        limit = int(args.get("limit", "100"))
    except ValueError:
        raise Invalid("limit must be a whole number") from None
    rows = audit.entries(db.get_session(), actor=args.get("actor"), target=args.get("target"),
                         action=args.get("action"), limit=limit)
    return {"entries": [audit.as_dict(e) for e in rows]}
