"""``/api/audit``: the audit log (administrator)."""

import flask

from issuer.identity import operators
from issuer.platform import audit, db
from issuer.web import auth, params

# An actor, a target or an action is a short name: longer is no entry, refused as a mistake.
FILTER_LENGTH = 200

bp = flask.Blueprint("audit_log", __name__, url_prefix="/api/audit")


@bp.get("")
@auth.require_roles(operators.ADMINISTRATOR)
def index():
    filters = {name: params.text_arg(name, most=FILTER_LENGTH)
               for name in ("actor", "target", "action")}
    rows = audit.entries(db.get_session(), limit=params.limit_arg(100, audit.MAX_ENTRIES),
                         **filters)
    return {"entries": [audit.as_dict(e) for e in rows]}
