"""``vexe backup`` and ``vexe restore``: the restore drill on SQLite and PostgreSQL, and
what a restore refuses; ``vexe trips prune``: old trips lose their pass, counts stay."""

import json
import re
import shutil
import time
from pathlib import Path

import redis
import sqlalchemy as sa

from issuer import create_app
from issuer.platform import db
from issuer.identity import operators
from issuer.platform.models import Base
from backoffice import ingest
from issuer_testkit import QR, assert_passes_still_verify, verify_qr
from shared import clock, keys
from shared.redis_keys import TRIPS_STREAM
from shared.trip import ACCEPT, BOARD, Trip

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def counts(url: str) -> dict[str, int]:
    """Rows in every table, and the sum of every number in it (the rollups' counts among
    them): what "nothing lost" means here."""
    with db.engine(url).connect() as conn:
        found = {}
        for table in Base.metadata.sorted_tables:
            found[table.name] = conn.scalar(sa.select(sa.func.count()).select_from(table))
            for column in table.c:
                if isinstance(column.type, sa.Integer) and not column.primary_key:
                    found[f"{table.name}.{column.name}"] = int(conn.scalar(
                        sa.select(sa.func.coalesce(sa.func.sum(column), 0))))
    return found


def trips_for(pass_id: str, n: int, *, ago_s: float) -> list[Trip]:
    at = int((time.time() - ago_s) * 1000)
    return [Trip(id=f"{at + i:012x}{i:08x}", validator="V-29B-100.01-front", vehicle="29B-100.01",
                 route="32", stop="S01", at_ms=at + i * 600_000, decision=ACCEPT, reason="ok",
                 pass_id=pass_id, product="multi", category=None, proof_at=(at // 1000) + i * 600,
                 mode=BOARD) for i in range(n)]


def ingested(config, trips: list[Trip]) -> None:
    """Trips pushed as validators push them, then written by an ingest worker."""
    client = redis.Redis.from_url(config["REDIS_URL"])
    for trip in trips:
        client.xadd(TRIPS_STREAM, {"trip": trip.to_json()})
    client.close()
    worker = ingest.Worker(config["DATABASE_URL"], ingest.connect(config["REDIS_URL"]), "w1",
                           max_age_ms=365 * 86400_000)
    worker.ensure_group()
    assert worker.once(clock.now()) == len(trips)


def history(client, pass_id: str) -> list:
    response = client.get(f"/api/ridership/passes/{pass_id}/history", headers={
        "Authorization": f"Bearer {client.application.config['OPERATOR_TOKEN']}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def destroy(config) -> None:
    """The data directory and the database gone, as after a lost disk."""
    url = config["DATABASE_URL"]
    db.dispose()
    shutil.rmtree(config["DATA_DIR"])
    if url.startswith("sqlite"):
        Path(sa.make_url(url).database).unlink()
        return
    schema = re.search(r"search_path%3D(\w+)", url).group(1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def test_the_restore_drill(api, app, cli, initialised, session, tmp_path):
    """Accounts, passes (one on a phone, one custodial), a signed-in operator and ingested
    trips; `vexe backup`; the data directory and database destroyed; `vexe restore`: every
    count matches, the phone's pass refreshes and its credential verifies with the restored
    signing key, the custodial QR verifies, the operator is still signed in."""
    phone_token, phone = api.rider_pass()
    api.ok("POST", f"/api/passes/{phone['id']}/device", token=phone_token,
           json={"public_key": keys.device_public_compressed(keys.new_device_key())})
    custodial_token, custodial = api.rider_pass()
    api.ok("POST", f"/api/passes/{custodial['id']}/custodial", token=custodial_token)
    operators.create(session, "clerk", [operators.CLERK], now=clock.now(), password=PASSWORD)
    session.commit()
    console = app.test_client()
    token = CSRF.search(console.get("/console/login").text).group(1)
    assert console.post("/console/login", data={"username": "clerk", "password": PASSWORD,
                                                "csrf_token": token}).status_code == 302
    cookie = console.get_cookie("vexe_session").value
    ingested(initialised, trips_for(phone["id"], 3, ago_s=3600))
    session.close()
    before = counts(initialised["DATABASE_URL"])
    assert before["trips"] == 3 and before["accounts"] >= 2
    assert before["ride_hour_route.boardings"] == 3

    out = cli.json("backup", tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert out["schema_revision"] == manifest["schema_revision"] == db.head_revision()
    assert set(manifest["files"]) >= {"sealing.key", "national-id.key", "cookie.key",
                                      "operator.token"}
    assert any(name.startswith("vexe.") for name in manifest["files"])
    for path in (tmp_path / "backup").iterdir():
        if path.name != "manifest.json":
            assert path.stat().st_mode & 0o777 == 0o600, path.name

    destroy(initialised)
    restored = cli.json("restore", tmp_path / "backup")
    assert restored["up_to_date"] is True
    assert counts(initialised["DATABASE_URL"]) == before

    after = create_app({**initialised, "TESTING": True})
    client = after.test_client()
    jwks = assert_passes_still_verify(client, phone, phone_token, custodial, custodial_token)
    verify_qr(cli.ok(*QR, custodial["id"]).stdout.strip(), jwks, time.time())
    signed_in = after.test_client()
    signed_in.set_cookie("vexe_session", cookie)
    assert signed_in.get("/console/").status_code == 200
    assert len(history(client, phone["id"])) == 3


def test_a_restore_refuses_a_tampered_backup_or_a_live_installation(cli, initialised,
                                                                    tmp_path):
    cli.json("backup", tmp_path / "backup")
    line = cli.fails("restore", tmp_path / "backup", code=2)
    assert "not empty" in line and "--force" in line
    shutil.copytree(tmp_path / "backup", tmp_path / "tampered")
    key = tmp_path / "tampered" / "sealing.key"
    key.write_text(key.read_text().replace(key.read_text()[5], "A" if key.read_text()[5] != "A"
                                           else "B", 1))
    line = cli.fails("restore", tmp_path / "tampered", "--force", code=2)
    assert "differs from the manifest" in line
    line = cli.fails("backup", tmp_path / "backup", code=2)
    assert "not empty" in line
    assert cli.json("restore", tmp_path / "backup", "--force")["up_to_date"] is True


class TestRetention:
    def test_prune_forgets_whose_old_trips_were_and_keeps_the_counts(self, api, app, cli,
                                                                    initialised):
        _, p = api.rider_pass()
        ingested(initialised, trips_for(p["id"], 2, ago_s=40 * 86400)
                 + trips_for(p["id"], 1, ago_s=3600))
        url = initialised["DATABASE_URL"]
        before = counts(url)
        client = app.test_client()
        assert len(history(client, p["id"])) == 3

        assert cli.json("trips", "prune")["trips"] == 0  # off by default: keep everything
        out = cli.json("trips", "prune", env={"VEXE_TRIPS_RETENTION_DAYS": "30"})
        assert out["days"] == 30 and out["trips"] == 2
        assert counts(url) == before  # rollups, journeys, every row: all still there
        with db.engine(url).connect() as conn:
            ids = conn.execute(sa.text("SELECT pass_id FROM trips ORDER BY at_ms")).scalars().all()
        assert ids == [None, None, p["id"]]
        assert len(history(client, p["id"])) == 1
        assert cli.json("trips", "prune", "--older-than-days", "30")["trips"] == 0


def test_a_new_host_with_the_database_in_the_data_directory(bare_cli, tmp_path):
    """The laptop's layout (SQLite in the data directory): the whole directory lost, restored
    from the backup alone."""
    env = {"VEXE_DATA_DIR": str(tmp_path / "var"), "VEXE_DATABASE_URL": ""}
    bare_cli.json("init", env=env)
    kid = bare_cli.json("keys", "list", env=env)[0]["kid"]
    bare_cli.json("backup", tmp_path / "backup", env=env)
    shutil.rmtree(tmp_path / "var")
    db.dispose()
    assert bare_cli.json("restore", tmp_path / "backup", env=env)["up_to_date"] is True
    assert bare_cli.json("keys", "list", env=env)[0]["kid"] == kid
    assert bare_cli.json("init", env=env)["created"] == []  # the key opens: nothing to make
