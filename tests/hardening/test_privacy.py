"""Nothing in a QR, a trip or a log (its JSON and access lines too) identifies a person beyond
the pass id.

A rider with a name, a birth date and a national ID number that can't occur by chance goes
through everything: account, pass, the issuer's QR, a scan, the push to Redis, the ingest.
Every QR text (decoded), trip and log line on the way is searched for them.
"""

from __future__ import annotations

import json
import logging

import redis
import sqlalchemy as sa

from issuer.platform import db
from backoffice import inbox, ingest
from shared import clock, logs, ticket
from shared.redis_keys import TRIPS_STREAM
from validator.device import Validator
from validator.sync import Syncer, connect

NAME = "Quách Thị Xuyến Zyx"
BIRTH = "1937-02-03"
NATIONAL_ID = "001937987654"
PERSONAL = [NAME, "Xuyến", "Zyx", BIRTH, "1937", "03/02/1937", NATIONAL_ID]
CLAIMS = {"jti", "pid", "prd", "rts", "cat", "nbf", "exp", "vf", "vu", "cnf"}


def test_a_rider_s_person_never_leaves_the_issuer(api, app, tmp_path, redis_url, caplog):
    caplog.set_level(logging.DEBUG)
    api.route("32")
    account = api.ok("POST", "/api/accounts", json={"full_name": NAME, "birth_date": BIRTH,
                                                    "national_id": NATIONAL_ID})
    issued = api.issue(account["id"], "free", category="elderly")
    token = account["rider_token"]
    assert api.call("POST", f"/api/passes/{issued['id']}/custodial", token=token,
                    json={}).status_code == 201
    qr_text = api.call("GET", f"/api/passes/{issued['id']}/qr", token=token).get_data(
        as_text=True)
    # A query string is never logged, whatever a client puts in it.
    assert api.call("GET", f"/api/passes/{issued['id']}", token=token,
                    query_string={"note": NAME}).status_code == 200

    parsed = ticket.parse_qr(qr_text)
    header = json.loads(parsed.header_json)
    payload = json.loads(parsed.payload_json)
    assert set(header) == {"alg", "kid"} and set(payload) <= CLAIMS
    assert set(payload["cnf"]) == {"dpk"}
    qr_everything = (parsed.header_json + parsed.payload_json).decode()

    device = Validator(validator_id="P1", vehicle="29B-321.00", route="32",
                       data_dir=tmp_path / "validator")
    client = connect(redis_url)
    try:
        device.lists.update_trust(api.call("GET", "/.well-known/jwks.json", token=None)
                                  .get_data(as_text=True))
        scan = device.scan(qr_text, clock.now())
        assert scan.accepted, scan.reason
        screen = json.dumps(scan.to_dict(), ensure_ascii=False)
        Syncer(device.journal, device.lists, client, validator_id="P1").push_all(clock.now())
        admin = redis.Redis.from_url(redis_url)
        inbox.move(admin)  # as the ingest moves it, to read the stream as it then is
        stream = [fields[b"trip"].decode() for _, fields in admin.xrange(TRIPS_STREAM)]
        admin.close()
        assert len(stream) == 1
        db_url = app.config["DATABASE_URL"]
        worker = ingest.Worker(db_url, ingest.connect(redis_url), "w1")
        worker.ensure_group()
        assert worker.drain(clock.now()) == 1
        worker.client.close()
        with db.engine(db_url).connect() as conn:
            trip_row = json.dumps([list(r) for r in conn.execute(sa.text(
                "SELECT * FROM trips")).all()], ensure_ascii=False, default=str)
    finally:
        device.close()
        client.close()

    # The log lines as the issuer writes them (shared.logs), the access lines among them.
    json_log = "\n".join(logs.JsonFormatter().format(r) for r in caplog.records)
    text_log = "\n".join(logs.TextFormatter().format(r) for r in caplog.records)
    assert '"logger": "issuer.access"' in json_log and f"/api/passes/{issued['id']}" in json_log
    places = {"QR": qr_everything, "screen": screen, "journal": device_trips_json(tmp_path),
              "stream": "\n".join(stream), "trips table": trip_row, "logs": caplog.text,
              "JSON log": json_log, "text log": text_log}
    found = {where: [p for p in PERSONAL if p in text] for where, text in places.items()}
    assert found == {where: [] for where in places}
    assert issued["id"] in stream[0] and issued["id"] in trip_row  # the pass id is there


def device_trips_json(tmp_path) -> str:
    from validator.journal import Journal

    with Journal(tmp_path / "validator" / "journal.db") as journal:
        return "\n".join(t.to_json() for t in journal.trips())

