"""``/api/free-passes`` and ``/api/applications``: free passes granted on the date of birth,
applications with evidence for the other categories, and the approvers' decisions."""

import base64
import binascii

import flask

from issuer.api import json_body, shapes
from issuer.identity import operators
from issuer.passes import passes
from issuer.platform import db
from issuer.platform.errors import Invalid
from shared.i18n import N_
from issuer.sales import actions, applications
from issuer.web import auth
from shared import clock

bp = flask.Blueprint("applications", __name__, url_prefix="/api")

APPROVER = operators.APPROVER


@bp.post("/free-passes")
@auth.require_rider
def grant():
    data = json_body(shapes.FreePassRequest)
    session = db.get_session()
    p = applications.grant_free_pass(session, auth.caller().account_id,
                                     data.category, now=clock.now())
    return passes.as_dict(session, p), 201


@bp.post("/applications")
@auth.require_rider
def apply():
    # Evidence arrives base64-encoded in the JSON: a photo of a card or certificate.
    flask.request.max_content_length = 3 * 1024 * 1024
    data = json_body(shapes.ApplicationRequest)
    evidence = data.evidence
    if evidence is not None:
        try:
            evidence = base64.b64decode(evidence, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(N_("field 'evidence' must be base64")) from None
    session = db.get_session()
    application = applications.apply(
        session, auth.caller().account_id, data.category, data.evidence_note,
        now=clock.now(), evidence=evidence, evidence_type=data.evidence_type)
    return applications.as_dict(application), 201


@bp.get("/applications")
@auth.require_roles(APPROVER)
def pending():
    return {"applications": [applications.as_dict(a)
                             for a in applications.pending(db.get_session())]}


def _visible(application_id: str):
    who = auth.caller()
    application = applications.get(db.get_session(), application_id)
    if who.is_operator:
        if not who.has_role(APPROVER):
            flask.abort(403, f"this needs the role {APPROVER}")
    else:
        applications.check_owner(application, who.account_id)
    return application


@bp.get("/applications/<application_id>")
def show(application_id: str):
    return applications.as_dict(_visible(application_id))


@bp.get("/applications/<application_id>/evidence")
def evidence(application_id: str):
    application = _visible(application_id)
    if application.evidence is None:
        flask.abort(404, "this application has no evidence file")
    response = flask.make_response(application.evidence)
    response.content_type = application.evidence_type
    # Shown to the approver as what it is, never as a page of this site.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response


def _decide(application_id: str, approve: bool):
    data = json_body(shapes.Decision if approve else shapes.Reason)
    session = db.get_session()
    now = clock.now()
    application = actions.decide_application(session, auth.caller(), application_id,
                                             approve=approve, reason=data.reason,
                                             now=now)
    return applications.as_dict(application)


@bp.post("/applications/<application_id>/approve")
@auth.require_roles(APPROVER)
def approve(application_id: str):
    return _decide(application_id, True)


@bp.post("/applications/<application_id>/reject")
@auth.require_roles(APPROVER)
def reject(application_id: str):
    return _decide(application_id, False)
