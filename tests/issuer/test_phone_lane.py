"""The phone lane (issuer.api.phone_lane): a phone's refresh, a rider's look at her pass and
a custodial pass's QR, on PostgreSQL answered in front of Flask. Its answer is Flask's
answer, header by header; it is counted and logged as every request; whatever it does not
answer reaches Flask whole (its body too), and Flask's view then uses what the lane's
statement found rather than running it again (a refresh or a QR is counted once)."""

from __future__ import annotations

import functools
import json
import logging

import flask
import pytest
import redis
import sqlalchemy as sa
from prometheus_client import REGISTRY
from werkzeug.test import Client, EnvironBuilder

from issuer import create_app
from issuer.platform import db
from issuer.platform.models import Credential, DeviceBinding, Pass
from issuer.platform.roundtrips import RoundTrips
from issuer.web import limits
from shared import clock, keys
from tests.issuer.issuer_testkit import verify_qr, verify_with_jwks

RULE = "/api/passes/<pass_id>/credential"
SHOW_RULE = "/api/passes/<pass_id>"
# Differ from one answer to the next by design.
OWN_VALUES = {"X-Request-Id", "Content-Length"}


# PostgreSQL only: the lane's database (on SQLite every request is Flask's).
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def flask_saw(app):
    """The requests that reached Flask (its request_started signal)."""
    seen: list[str] = []

    def started(sender, **_):
        seen.append(flask.request.path)

    flask.request_started.connect(started, app)
    yield seen
    flask.request_started.disconnect(started, app)


def flask_alone(app) -> Client:
    """A client of Flask without the lane in front (the same app, its own wsgi_app)."""
    return Client(functools.partial(flask.Flask.wsgi_app, app), flask.Response)


def post(client, pass_id: str, token: str, **kwargs):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    kwargs.setdefault("json", {})
    return client.post(f"/api/passes/{pass_id}/credential", headers=headers, **kwargs)


def credentials_of(app, pass_id: str) -> int:
    with db.session(app.config["DATABASE_URL"]) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Credential)
                        .where(Credential.pass_id == pass_id))


def test_the_lanes_answer_is_flasks(app, client, api, bound, flask_saw):
    token, pass_id = bound
    lane = post(client, pass_id, token)
    assert lane.status_code == 200, lane.get_json()
    assert flask_saw == []  # answered in front of Flask
    plain = post(flask_alone(app), pass_id, token)
    assert plain.status_code == 200, plain.get_json()
    assert flask_saw == [f"/api/passes/{pass_id}/credential"]
    assert sorted(lane.headers.keys()) == sorted(plain.headers.keys())
    for name, value in plain.headers.items():
        if name not in OWN_VALUES:
            assert lane.headers[name] == value, name
    assert int(lane.headers["Content-Length"]) == len(lane.data)
    mine, flasks = json.loads(lane.data), json.loads(plain.data)
    assert mine.keys() == flasks.keys()
    assert lane.data == json.dumps(mine, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    jwks = api.jwks()
    claims = verify_with_jwks(mine["credential"], jwks)
    assert claims["jti"] != verify_with_jwks(flasks["credential"], jwks)["jti"]
    assert credentials_of(app, pass_id) == 3  # the binding's, then one each


@pytest.mark.parametrize("phone", [True, False], ids=["on a phone", "no phone"])
def test_the_lanes_pass_is_flasks(app, client, api, device, flask_saw, phone):
    token, p = api.rider_pass()
    if phone:
        api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
               json={"public_key": keys.device_public_compressed(device)})
    flask_saw.clear()
    path = f"/api/passes/{p['id']}"
    auth = {"Authorization": f"Bearer {token}"}
    lane = client.get(path, headers=auth)
    assert lane.status_code == 200 and flask_saw == []
    plain = flask_alone(app).get(path, headers=auth)
    assert plain.status_code == 200 and flask_saw == [path]
    assert lane.data == plain.data  # the same pass, byte for byte
    assert (lane.get_json()["device"] is not None) == phone
    assert sorted(lane.headers.keys()) == sorted(plain.headers.keys())
    for name, value in plain.headers.items():
        if name != "X-Request-Id":
            assert lane.headers[name] == value, name


@pytest.mark.parametrize("case", ["operator", "someone else's", "unknown pass", "query",
                                  "a body", "no token"])
def test_what_the_lane_leaves_to_flask_of_a_pass(client, api, bound, flask_saw, case):
    token, pass_id = bound
    other_token, _ = api.rider_pass()
    flask_saw.clear()
    path = f"/api/passes/{pass_id}"
    asked, status = {
        "operator": (dict(path=path, headers={"Authorization": f"Bearer {api.operator_token}"}),
                     200),
        "someone else's": (dict(path=path, headers={"Authorization": f"Bearer {other_token}"}),
                           403),
        "unknown pass": (dict(path="/api/passes/P-none", headers={
            "Authorization": f"Bearer {token}"}), 404),
        "query": (dict(path=f"{path}?x=1", headers={"Authorization": f"Bearer {token}"}), 200),
        "a body": (dict(path=path, headers={"Authorization": f"Bearer {token}"},
                        data=b"a=%00", content_type="application/x-www-form-urlencoded"), 400),
        "no token": (dict(path=path), 401),
    }[case]
    response = client.get(**asked)
    assert response.status_code == status, response.get_json()
    assert len(flask_saw) == 1
    if status == 200:
        assert response.get_json()["id"] == pass_id


def test_request_id_hsts_and_the_proxys_scheme(initialised, bound, flask_saw):
    token, pass_id = bound
    direct = create_app({**initialised, "TESTING": True}).test_client()
    given = post(direct, pass_id, token, headers={"X-Request-Id": "phone-7f3a"})
    assert given.status_code == 200 and given.headers["X-Request-Id"] == "phone-7f3a"
    forged = post(direct, pass_id, token, headers={"X-Request-Id": "x\" forged line"})
    assert forged.status_code == 200
    assert forged.headers["X-Request-Id"] not in ("", "x\" forged line")
    assert "Strict-Transport-Security" not in given.headers  # plain HTTP
    https = post(direct, pass_id, token, base_url="https://localhost")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
    behind = create_app({**initialised, "TESTING": True, "TRUSTED_PROXIES": 1}).test_client()
    proxied = post(behind, pass_id, token, headers={"X-Forwarded-Proto": "https",
                                                    "X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 200
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")
    assert flask_saw == []


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_counted_and_logged_as_every_request(client, bound, caplog, method):
    token, pass_id = bound
    rule, path = {"POST": (RULE, f"/api/passes/{pass_id}/credential"),
                  "GET": (SHOW_RULE, f"/api/passes/{pass_id}")}[method]
    labels = {"method": method, "endpoint": rule, "status": "200"}

    def answered() -> float:
        return REGISTRY.get_sample_value("vexe_issuer_requests_total", labels) or 0.0

    before = answered()
    with caplog.at_level(logging.INFO, logger="issuer.access"):
        response = client.open(path, method=method, headers={
            "Authorization": f"Bearer {token}", "X-Request-Id": "phone-1"})
    assert response.status_code == 200
    assert answered() == before + 1
    line = next(r for r in caplog.records if r.name == "issuer.access")
    assert (line.method, line.rule, line.path, line.status) == (method, rule, path, 200)
    assert line.duration_ms >= 0
    assert token not in caplog.text


@pytest.mark.parametrize("case", ["query", "field", "not json", "chunked", "no token",
                                  "someone else's", "unknown pass", "get"])
def test_what_the_lane_leaves_to_flask(app, client, api, bound, flask_saw, case):
    """Each reaches Flask once, with its body, and gets Flask's answer; none records a
    credential twice."""
    token, pass_id = bound
    other_token, _ = api.rider_pass()
    path = f"/api/passes/{pass_id}/credential"
    auth = {"Authorization": f"Bearer {token}"}
    before = credentials_of(app, pass_id)
    flask_saw.clear()  # what made the riders
    if case == "query":
        response, status = client.post(f"{path}?x=1", headers=auth, json={}), 200
    elif case == "field":
        response, status = client.post(path, headers=auth, json={"extra": 1}), 400
    elif case == "not json":
        response, status = client.post(path, headers=auth, data=b"{",
                                       content_type="application/json"), 400
    elif case == "chunked":
        environ = EnvironBuilder(path=path, method="POST", headers=auth, data=b"{}",
                                 content_type="application/json").get_environ()
        del environ["CONTENT_LENGTH"]  # a body of unknown length, as a chunked one is
        environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
        response, status = client.open(environ), 200
    elif case == "no token":
        response, status = client.post(path, json={}), 401
    elif case == "someone else's":
        response, status = post(client, pass_id, other_token), 403
    elif case == "unknown pass":
        response, status = post(client, "P-no-such-pass", token), 404
    else:
        response, status = client.get(path, headers=auth), 405
    assert response.status_code == status, response.get_json()
    assert flask_saw == [path if case != "unknown pass" else
                         "/api/passes/P-no-such-pass/credential"]
    if case == "field":
        assert "extra" in response.get_json()["message"]
    assert credentials_of(app, pass_id) == before + (1 if status == 200 else 0)



def test_a_look_at_ones_pass_costs_one_round_trip(app, client, bound):
    """Counted on the wire on both engines: the token, the pass and its phone in one
    statement, no BEGIN or ROLLBACK (the general path takes five)."""
    token, pass_id = bound
    url = app.config["DATABASE_URL"]
    path, auth = f"/api/passes/{pass_id}", {"Authorization": f"Bearer {token}"}
    assert client.get(path, headers=auth).status_code == 200  # a connection pooled
    with RoundTrips(db.engine(url)) as general, RoundTrips(db.autocommit_engine(url)) as one:
        assert client.get(path, headers=auth).get_json()["id"] == pass_id
    assert (general.count, one.count) == (0, 1), general.sent + one.sent
    assert "FROM accounts JOIN passes" in one.sent[0]


@pytest.fixture
def custodial(api):
    """A rider without a phone that holds a key: the issuer holds it (rider token, pass id)."""
    return custodial_of(api)


def qr_of(client, pass_id: str, token: str, **kwargs):
    return client.get(f"/api/passes/{pass_id}/qr", headers={"Authorization": f"Bearer {token}"},
                      **kwargs)


def tat_of(app, pass_id: str) -> int:
    with db.session(app.config["DATABASE_URL"]) as s:
        return s.get(Pass, pass_id).refresh_tat_ms


def test_the_lanes_qr_is_flasks(app, client, api, custodial, flask_saw):
    token, pass_id = custodial
    flask_saw.clear()
    lane = qr_of(client, pass_id, token)
    assert lane.status_code == 200 and flask_saw == []
    plain = qr_of(flask_alone(app), pass_id, token)
    assert plain.status_code == 200 and flask_saw == [f"/api/passes/{pass_id}/qr"]
    assert sorted(lane.headers.keys()) == sorted(plain.headers.keys())
    for name, value in plain.headers.items():
        if name not in OWN_VALUES:
            assert lane.headers[name] == value, name
    jwks = api.jwks()
    for answer in (lane, plain):  # both signatures good, as a validator checks them
        _, claims = verify_qr(answer.get_data(as_text=True), jwks, clock.now())
        assert claims.pid == pass_id


def test_a_qr_too_often_is_refused_by_its_pass(app, client, api, custodial, redis_url):
    """20 at once, then a 429 with the seconds to wait, moving nothing; another rider's QR is
    not held up; nothing of it is counted in Redis."""
    token, pass_id = custodial
    allowed = int(limits.QR.split()[0])
    shown = 0
    while (answer := qr_of(client, pass_id, token)).status_code == 200:
        shown += 1
        assert shown <= 2 * allowed, "the burst was not stopped"
    assert shown >= allowed
    assert answer.status_code == 429, answer.get_json()
    assert 1 <= int(answer.headers["Retry-After"]) <= limits.CREDENTIAL_SPACING_MS // 1000
    assert answer.get_json()["error"].startswith("Too many requests")
    due = tat_of(app, pass_id)
    assert qr_of(client, pass_id, token).status_code == 429
    assert tat_of(app, pass_id) == due  # a refusal moves nothing
    other_token, other = custodial_of(api)
    assert qr_of(client, other, other_token).status_code == 200
    assert not redis.Redis.from_url(redis_url).keys("*qr*")


def test_a_qr_whose_credential_is_renewed_is_counted_once(app, client, api, custodial,
                                                         flask_saw, redis_url):
    """The stored credential gone stale: the lane counts the QR on the pass, Flask renews the
    credential under its lock and answers, and counts nothing more (no limiter in Redis)."""
    token, pass_id = custodial
    with db.session(app.config["DATABASE_URL"]) as s:
        s.execute(sa.update(DeviceBinding).where(DeviceBinding.pass_id == pass_id)
                  .values(credential=None))
        s.commit()
    before = tat_of(app, pass_id)
    flask_saw.clear()
    answer = qr_of(client, pass_id, token)
    assert answer.status_code == 200 and flask_saw == [f"/api/passes/{pass_id}/qr"]
    verify_qr(answer.get_data(as_text=True), api.jwks(), clock.now())
    assert tat_of(app, pass_id) > before
    assert not redis.Redis.from_url(redis_url).keys("*qr*")
    flask_saw.clear()
    assert qr_of(client, pass_id, token).status_code == 200 and flask_saw == []  # stored now


@pytest.mark.parametrize("case", ["a phone's pass", "operator", "png"])
def test_what_the_lane_leaves_to_flask_of_a_qr(app, client, api, custodial, bound, flask_saw,
                                               case):
    token, pass_id = custodial
    asked, status = {
        "a phone's pass": ((bound[1], bound[0]), 409),
        "operator": ((pass_id, api.operator_token), 403),
        "png": ((pass_id, token), 200),
    }[case]
    flask_saw.clear()
    answer = qr_of(client, *asked, query_string={"format": "png"} if case == "png" else None)
    assert answer.status_code == status, answer.get_json()
    assert len(flask_saw) == 1
    if case == "png":
        assert answer.content_type == "image/png"


def custodial_of(api) -> tuple[str, str]:
    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/custodial", token=token, json={})
    return token, p["id"]


def test_a_custodial_qr_costs_one_round_trip(app, client, custodial):
    """Counted on the wire on both engines: the token, the pass, its binding, the signing
    key's id and the QR's count on the pass in one statement."""
    token, pass_id = custodial
    url = app.config["DATABASE_URL"]
    assert qr_of(client, pass_id, token).status_code == 200  # the connection pooled
    with RoundTrips(db.engine(url)) as general, RoundTrips(db.autocommit_engine(url)) as one:
        assert qr_of(client, pass_id, token).get_data(as_text=True).startswith("VX1:")
    assert (general.count, one.count) == (0, 1), general.sent + one.sent
    assert "UPDATE passes" in one.sent[0] and "FROM device_bindings" in one.sent[0]


def test_a_look_that_fails_in_the_lane_is_flasks_to_answer(client, bound, flask_saw,
                                                           monkeypatch):
    """An error in the lane's read is not the rider's answer: Flask reads again and answers
    (here well, since only the lane's statement failed)."""
    from issuer.passes import shown

    def broken(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("the server went away"))

    monkeypatch.setattr(shown, "own_pass", broken)
    token, pass_id = bound
    flask_saw.clear()
    answer = client.get(f"/api/passes/{pass_id}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.get_json()["id"] == pass_id
    assert flask_saw == [f"/api/passes/{pass_id}"]
