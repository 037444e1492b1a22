"""``/api/passes``: issuing and revoking (administrator); seeing a pass (its rider, or an
operator); its phone, credential and QR (its rider only: a clerk acting for a rider does so at
the counter, audited)."""

import flask
from werkzeug.exceptions import TooManyRequests

from issuer.api import json_body, phone_lane, shapes
from issuer.identity import operators
from issuer.passes import actions, next_month, passes, phones, qr
from issuer.passes import refresh as refresh_sql
from issuer.platform import db
from issuer.platform.errors import Invalid
from shared.i18n import N_
from issuer.web import auth, limits, monitoring, publishing
from issuer.web.publishing import publish_now
from shared import clock

bp = flask.Blueprint("passes", __name__, url_prefix="/api/passes")

QR_FORMATS = {"text": "text/plain; charset=utf-8", "png": "image/png", "svg": "image/svg+xml"}


def _credential_settings() -> dict:
    config = flask.current_app.config
    return {"sealing_key": config["SEALING_KEY"], "lifetime": config["CREDENTIAL_LIFETIME"]}


def _visible_pass(pass_id: str):
    """The pass, after the caller is authenticated (401), it exists (404) and may be seen:
    by its rider, or by an operator (403)."""
    auth.caller()
    p = passes.get(db.get_session(), pass_id)
    return auth.check_pass_access(p), p


def _own_pass(pass_id: str):
    """The pass, for its rider only: 401, 404, then 403 for anyone else, operators too."""
    auth.caller()
    p = passes.get(db.get_session(), pass_id)
    return auth.check_own_pass(p), p


@bp.post("")
@auth.require_roles(operators.ADMINISTRATOR)
def issue():
    data = json_body(shapes.IssueRequest)
    session = db.get_session()
    now = clock.now()
    p = actions.issue(session, auth.caller(), data.account_id, data.product, now=now,
                      route=data.route, month=data.month, category=data.category)
    return passes.as_dict(session, p), 201


@bp.get("/<pass_id>")
def show(pass_id: str):
    _, p = _visible_pass(pass_id)
    return passes.as_dict(db.get_session(), p)


@bp.post("/<pass_id>/revoke")
@auth.require_roles(operators.ADMINISTRATOR)
def revoke(pass_id: str):
    data = json_body(shapes.Revocation)
    session = db.get_session()
    now, redis_url = clock.now(), flask.current_app.config["REDIS_URL"]
    if data.code is None:
        p, published = actions.revoke(session, auth.caller(), pass_id, data.reason,
                                      now=now, redis_url=redis_url)
    else:
        p, published = actions.revoke_with_reason(session, auth.caller(), pass_id, data.code,
                                                  data.reason, now=now, redis_url=redis_url)
    return {**passes.as_dict(session, p), **publishing.answer(published)}


@bp.post("/<pass_id>/device")
@limits.credential
def bind_device(pass_id: str):
    _own_pass(pass_id)
    data = json_body(shapes.DeviceRequest)
    key = data.public_key if isinstance(data.public_key, str) else shapes.as_builtins(
        data.public_key)
    session = db.get_session()
    replacing = phones.active_binding(session, pass_id) is not None
    now = clock.now()
    issued = phones.bind_device(session, pass_id, key, now=now, label=data.label,
                                 **_credential_settings())
    session.commit()
    return {**issued.as_dict(), **_retire_old_device(session, replacing, now)}, 201


@bp.post("/<pass_id>/credential")
def refresh(pass_id: str):
    issued = _refresh_in_one_round_trip(pass_id)  # its rate counted on the pass
    if issued is not None:
        if issued.follows is None:
            return issued.as_dict()
        answer = {**issued.as_dict(), **_next_month(db.get_session(), issued, clock.now())}
        db.get_session().commit()
        return answer
    # Everything else (SQLite, a session cookie, an operator's token, a refusal, a pass the
    # issuer holds the key of): the general path, which says why in the usual order.
    return _refresh_general(pass_id)


@limits.credential
def _refresh_general(pass_id: str):
    auth.caller()  # a 401 before anything about the pass
    json_body(shapes.Empty)
    # The rider's own pass only (403), checked on the pass as refresh_credential locks it:
    # the busiest request reads the pass once.
    session = db.get_session()
    issued = phones.refresh_credential(session, pass_id, now=clock.now(),
                                        may_use=auth.check_own_pass, **_credential_settings())
    answer = {**issued.as_dict(), **_next_month(session, issued, clock.now())}
    session.commit()
    return answer


def _next_month(session, issued, now: float) -> dict:
    """``next``: a credential for the pass that follows this one on the same phone, minted
    ahead in the pass's last days so the card switches at 00:00 on the 1st offline."""
    later = next_month.credential_after(session, issued, now=now, **_credential_settings())
    return {} if later is None else {"next": later.as_dict()}


def _refresh_in_one_round_trip(pass_id: str):
    """A phone's refresh with a rider's token, on PostgreSQL: one statement
    (:mod:`issuer.passes.refresh`). None when it issued nothing: the general path answers."""
    config = flask.current_app.config
    url = config["DATABASE_URL"]
    now, lifetime = int(clock.now()), config["CREDENTIAL_LIFETIME"]
    outcome = phone_lane.outcome_for(flask.request.environ)  # the lane ran it already
    if outcome is None:
        token = auth.bearer_token()
        if (token is None or not url.startswith("postgresql")
                or not phone_lane.empty_body(flask.request.get_data(cache=True))):
            return None
        outcome = db.retry_dropped(url, lambda conn: refresh_sql.run(
            conn, pass_id, token, now=now, lifetime=lifetime,
            spacing_ms=limits.CREDENTIAL_SPACING_MS, burst_ms=limits.CREDENTIAL_BURST_MS))
    if outcome.retry_after is not None:
        auth.rider_is(outcome.rider_id)
        monitoring.rate_limited(None)
        raise TooManyRequests(retry_after=outcome.retry_after)
    if outcome.jti is None:
        return None
    issued = phones.mint_recorded(db.get_session, outcome.row, now=now, lifetime=lifetime,
                                  sealing_key=config["SEALING_KEY"])
    if issued is not None:
        auth.rider_is(outcome.rider_id)
    return issued


@bp.post("/<pass_id>/custodial")
@limits.credential
def bind_custodial(pass_id: str):
    _own_pass(pass_id)
    json_body(shapes.Empty)
    session = db.get_session()
    replacing = phones.active_binding(session, pass_id) is not None
    now = clock.now()
    issued = phones.bind_custodial(session, pass_id, now=now, **_credential_settings())
    session.commit()
    # The credential is the issuer's to present: the answer says only that the pass is bound.
    return {"pass_id": issued.pass_id, "custodial": True, "device_key": issued.device_key,
            "expires": issued.expires, **_retire_old_device(session, replacing, now)}, 201


@bp.get("/<pass_id>/devices")
def device_history(pass_id: str):
    """Which phone holds the pass, since when, and the ones before."""
    _visible_pass(pass_id)
    return {"devices": [phones.binding_as_dict(b)
                        for b in phones.history(db.get_session(), pass_id)]}


@bp.post("/<pass_id>/lost-device")
def lost_device(pass_id: str):
    """The rider's phone is lost: the pass leaves it now, and validators hear of it."""
    _own_pass(pass_id)
    data = json_body(shapes.Reason)
    session = db.get_session()
    now = clock.now()
    binding = phones.report_lost(session, pass_id, data.reason, now=now)
    session.commit()
    return {**phones.binding_as_dict(binding), **publish_now(session, now)}


def _retire_old_device(session, replacing: bool, now: float) -> dict:
    """A pass moved off a device: publish the denylist so validators refuse that device now."""
    return publish_now(session, now) if replacing else {}


@bp.get("/<pass_id>/qr")
def show_qr(pass_id: str):
    seen = phone_lane.outcome_for(flask.request.environ)  # the lane counted it on the pass
    if seen is not None and seen.retry_after is not None:
        auth.rider_is(seen.row.account_id)
        monitoring.rate_limited(None)
        raise TooManyRequests(retry_after=seen.retry_after)
    if seen is not None and seen.counted:  # its credential to renew: counted already
        return _qr(pass_id)
    return _qr_counted_here(pass_id)


@limits.qr
def _qr_counted_here(pass_id: str):
    """Any other QR (a query such as ``format=png``, a session cookie, SQLite, a refusal):
    counted by the rate limiter, per caller."""
    return _qr(pass_id)


def _qr(pass_id: str):
    _, p = _own_pass(pass_id)
    fmt = flask.request.args.get("format", "text")
    if fmt not in QR_FORMATS:
        raise Invalid(N_("format must be one of %(formats)s"), formats=", ".join(QR_FORMATS))
    session = db.get_session()
    text = phones.custodial_qr(session, p.id, at=clock.now(), **_credential_settings())
    session.commit()  # a credential renewed for the QR
    if fmt == "png":
        body = qr.png(text)
    elif fmt == "svg":
        body = qr.svg(text)
    else:
        body = text
    response = flask.make_response(body)
    response.content_type = QR_FORMATS[fmt]
    response.cache_control.no_store = True  # a proof lives seconds; never serve a stale one
    return response
