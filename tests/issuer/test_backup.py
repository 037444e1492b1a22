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
from issuer.platform import db, partitions
from issuer.identity import operators
from issuer.platform.models import Base
from backoffice import ingest
from backoffice.models import ROLLUPS
from issuer_testkit import QR, assert_passes_still_verify, verify_qr
from shared import clock, keys
from shared.redis_keys import TRIPS_STREAM
from shared.trip import ACCEPT, BOARD, Trip

PASSWORD = "correct horse battery"
DAY_MS = 86400_000
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


def trip_at(pass_id: str, at_ms: int, n: int) -> Trip:
    return Trip(id=f"{at_ms:012x}{n:08x}", validator="V-29B-100.01-front", vehicle="29B-100.01",
                route="32", stop="S01", at_ms=at_ms, decision=ACCEPT, reason="ok",
                pass_id=pass_id, product="multi", category=None, proof_at=at_ms // 1000,
                mode=BOARD)


def trips_for(pass_id: str, n: int, *, ago_s: float) -> list[Trip]:
    at = int((time.time() - ago_s) * 1000)
    return [trip_at(pass_id, at + i * 600_000, i) for i in range(n)]


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
    if initialised["DATABASE_URL"].startswith("postgresql"):  # the planner's statistics too
        with db.engine(initialised["DATABASE_URL"]).connect() as conn:
            unanalyzed = conn.execute(sa.text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL")).scalars().all()
        assert unanalyzed == []

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
        """Trips of four months ago, of two months ago on each side of the retention's
        cutoff, and of an hour ago. Past the retention, a trip loses its pass; on PostgreSQL a
        month wholly past it is dropped whole (its partition), the month at the cutoff row by
        row. Every rollup stays as it was."""
        _, p = api.rider_pass()
        now = time.time()
        month = partitions.month_of(int(now * 1000))
        for _ in range(2):
            month = (month[0] - 1, 12) if month[1] == 1 else (month[0], month[1] - 1)
        start = partitions.bounds_ms(*month)[0]  # of the month before last
        # The cutoff falls on the 3rd of that month, whatever today is.
        days = int((now * 1000 - (start + 2 * DAY_MS)) // DAY_MS)
        older_month = (month[0] - 1, month[1] + 10) if month[1] <= 2 else (month[0],
                                                                           month[1] - 2)
        trips = [trip_at(p["id"], partitions.bounds_ms(*older_month)[0] + DAY_MS, 0),
                 trip_at(p["id"], start + 3600_000, 1),  # before the cutoff
                 trip_at(p["id"], start + 10 * DAY_MS, 2),  # after it
                 trip_at(p["id"], int((now - 3600) * 1000), 3)]
        ingested(initialised, trips)
        url = initialised["DATABASE_URL"]
        postgres = url.startswith("postgresql")
        before = counts(url)
        client = app.test_client()
        assert len(history(client, p["id"])) == 4

        assert cli.json("trips", "prune")["trips"] == 0  # off by default: keep everything
        out = cli.json("trips", "prune", env={"VEXE_TRIPS_RETENTION_DAYS": str(days)})
        assert out["days"] == days
        with db.engine(url).connect() as conn:
            kept = conn.execute(sa.text("SELECT id, pass_id FROM trips ORDER BY at_ms")).all()
        after = counts(url)
        rollups = [t.name for t in ROLLUPS]
        assert {k: v for k, v in after.items() if k.split(".")[0] in rollups} == {
            k: v for k, v in before.items() if k.split(".")[0] in rollups}
        if postgres:  # the oldest month dropped whole, and the one after (empty)
            dropped = set(out["partitions_dropped"])
            assert {partitions.name_of(*older_month),
                    partitions.name_of(*partitions.following(*older_month))} <= dropped
            assert partitions.name_of(*month) not in dropped
            assert partitions.DEFAULT not in dropped
            assert out["trips"] == 1
            assert kept == [(trips[1].id, None), (trips[2].id, p["id"]), (trips[3].id, p["id"])]
        else:  # every row stays
            assert out["partitions_dropped"] == [] and out["trips"] == 2
            assert after == before
            assert kept == [(trips[0].id, None), (trips[1].id, None), (trips[2].id, p["id"]),
                            (trips[3].id, p["id"])]
        assert len(history(client, p["id"])) == 2
        again = cli.json("trips", "prune", "--older-than-days", str(days))
        assert again["trips"] == 0 and again["partitions_dropped"] == []

    def test_a_month_the_ingest_still_takes_is_not_dropped(self, api, cli, initialised):
        """A month past the retention but within VEXE_INGEST_MAX_AGE_DAYS keeps its
        partition (a late trip must find its month, a trip sent again its first copy); its
        trips lose their pass all the same."""
        _, p = api.rider_pass()
        now = time.time()
        this = partitions.month_of(int(now * 1000))
        last = (this[0] - 1, 12) if this[1] == 1 else (this[0], this[1] - 1)
        trip = trip_at(p["id"], partitions.bounds_ms(*last)[0], 0)  # the 1st, 00:00 +07
        ingested(initialised, [trip])
        out = cli.json("trips", "prune", "--older-than-days", "1",
                       env={"VEXE_INGEST_MAX_AGE_DAYS": "365"})
        assert out["trips"] == 1
        assert partitions.name_of(*last) not in out["partitions_dropped"]
        with db.engine(initialised["DATABASE_URL"]).connect() as conn:
            assert conn.execute(sa.text("SELECT id, pass_id FROM trips")).all() == [
                (trip.id, None)]


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
