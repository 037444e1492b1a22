"""Console answers over a month of Hanoi ridership in PostgreSQL.

    .venv/bin/python bench/bench_console.py [--days 30] [--trips 5000000] [--rounds 20]
        [--redis redis://127.0.0.1:6379/9]

The console reads rollups, never the raw trips (a pass's history reads its own rows through
the (pass_id, at_ms) index). This fills, in a fresh schema, the rollup tables with the rows a
month of Hanoi days produces (150 routes x 30 stops, 3,000 vehicles and 6,000 validators,
7 product keys, 12 companies, every origin-destination pair of a route used each day) and
``--trips`` raw trips for the pass histories, and writes a heartbeat for each of the 6,000
validators into ``--redis`` (a few silent, a few with a backlog; removed at the end). Then it
times every ``/api/ridership`` table for the whole month through the Flask app with an
analyst's token (the pages run the same queries and render them; the Validators page, whose
table is paged, is timed too), ``--rounds`` times each.

Filling uses ``generate_series`` in SQL; a real month would be 90 M trips, which this
machine does not ingest in a benchmark's time: the rollups are month-sized, the trips table
is ``--trips`` rows (a B-tree lookup is one level deeper at 90 M).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet

from issuer import create_app, gunicorn_conf
from issuer.platform import db
from issuer.identity import operators
from backoffice.buckets import DAY
from shared import clock
from shared.redis_keys import heartbeat

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
VALIDATORS = 6000
DAY0 = 1_793_466_000  # 2026-11-01 00:00 Hanoi time
PRODUCTS = "ARRAY['single','multi','free:elderly','free:disability','free:merit','free:child','']"

FILL = [
    # hourly, network-wide
    f"""INSERT INTO ride_hour SELECT {DAY0} + h * 3600, p, 500 + h, 480, 7
        FROM generate_series(0, :days * 24 - 1) h, unnest({PRODUCTS}) p""",
    f"""INSERT INTO ride_hour_route SELECT {DAY0} + h * 3600, 'R' || lpad(r::text, 3, '0'), p,
        30 + r % 20, 28, 1 FROM generate_series(0, :days * 24 - 1) h,
        generate_series(0, 149) r, unnest({PRODUCTS}) p""",
    f"""INSERT INTO ride_day_route SELECT {DAY0} + d * 86400, 'R' || lpad(r::text, 3, '0'), p,
        1400 + r, 1350, 14 FROM generate_series(0, :days - 1) d, generate_series(0, 149) r,
        unnest({PRODUCTS}) p""",
    f"""INSERT INTO ride_day_stop SELECT {DAY0} + d * 86400, 'R' || lpad(r::text, 3, '0'),
        'R' || lpad(r::text, 3, '0') || '-S' || lpad(s::text, 2, '0'), 330 + s, 320, 3
        FROM generate_series(0, :days - 1) d, generate_series(0, 149) r,
        generate_series(0, 29) s""",
    f"""INSERT INTO ride_day_vehicle SELECT {DAY0} + d * 86400, 'V' || lpad(v::text, 4, '0'), p,
        70, 68, 1 FROM generate_series(0, :days - 1) d, generate_series(0, 2999) v,
        unnest({PRODUCTS}) p""",
    f"""INSERT INTO ride_day_company SELECT {DAY0} + d * 86400, 'C' || lpad(c::text, 2, '0'), p,
        17500, 17000, 180 FROM generate_series(0, :days - 1) d, generate_series(0, 11) c,
        unnest({PRODUCTS}) p""",
    f"""INSERT INTO ride_day_validator SELECT {DAY0} + d * 86400, 'VAL' || lpad(v::text, 4, '0'),
        500, 5 FROM generate_series(0, :days - 1) d, generate_series(0, 5999) v""",
    f"""INSERT INTO refusal_hour SELECT {DAY0} + h * 3600, reason, 40 FROM
        generate_series(0, :days * 24 - 1) h, unnest(ARRAY['expired','stale_proof',
        'wrong_route','revoked','passback','malformed']) reason""",
    f"""INSERT INTO od_day SELECT {DAY0} + d * 86400, 'R' || lpad(r::text, 3, '0'),
        'R' || lpad(r::text, 3, '0') || '-S' || lpad(o::text, 2, '0'),
        'R' || lpad(r::text, 3, '0') || '-S' || lpad(t::text, 2, '0'), 3
        FROM generate_series(0, :days - 1) d, generate_series(0, 149) r,
        generate_series(0, 29) o, generate_series(0, 29) t WHERE t > o""",
    f"""INSERT INTO validator_status SELECT 'VAL' || lpad(v::text, 4, '0'),
        'V' || lpad((v / 2)::text, 4, '0'), 'R' || lpad((v % 150)::text, 3, '0'),
        ({DAY0}::bigint + :days * 86400) * 1000 - v * 1000,
        ({DAY0}::bigint + :days * 86400) * 1000 - v * 900,
        ({DAY0}::bigint + :days * 86400) * 1000, 900, 1 FROM generate_series(0, 5999) v""",
    """INSERT INTO companies SELECT 'C' || lpad(c::text, 2, '0'), 'Công ty ' || c, 0
        FROM generate_series(0, 11) c""",
    f"""INSERT INTO trips SELECT lpad(to_hex(n), 20, '0'), 'VAL' || lpad((n % 6000)::text, 4, '0'),
        'V' || lpad((n % 3000)::text, 4, '0'), 'R' || lpad((n % 150)::text, 3, '0'), 'S01',
        {DAY0}000::bigint + n::bigint * (:days * 86400000::bigint) / :trips, 'accept',
        'ok', 'P' || lpad((n % 900000)::text, 9, '0'), 'multi', NULL, NULL,
        CASE WHEN n % 2 = 0 THEN 'board' ELSE 'alight' END, NULL, 0, 0
        FROM generate_series(1, :trips) n""",
    f"""INSERT INTO clone_alerts (pass_id, first_trip_id, second_trip_id, first_vehicle,
        second_vehicle, first_at_ms, second_at_ms, created_ms, status)
        SELECT 'P' || lpad(n::text, 9, '0'), 'a' || n, 'b' || n, 'V0001', 'V0002',
        {DAY0}000 + n * 1000, {DAY0}000 + n * 1000 + 60000, {DAY0}000 + n * 1000,
        CASE WHEN n % 3 = 0 THEN 'open' ELSE 'dismissed' END FROM generate_series(1, 3000) n""",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--trips", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9",
                        help="where the validators' heartbeats go (only their keys are touched)")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    beats = redis.Redis.from_url(args.redis)
    try:
        write_beats(beats)
        run(url, args)
    finally:
        beats.delete(*(heartbeat(f"VAL{v:04d}") for v in range(VALIDATORS)))
        beats.close()
        db.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def write_beats(client: redis.Redis) -> None:
    """A heartbeat per validator, as a validator writes it: one in a hundred silent for an
    hour, one in two hundred with a backlog (the page lists both kinds first)."""
    now = clock.now()
    with client.pipeline(transaction=False) as pipe:
        for v in range(VALIDATORS):
            at = now - (3600 if v % 100 == 7 else v % 30)
            beat = {"validator": f"VAL{v:04d}",
                    "vehicle": f"V{v // 2:04d}", "company": f"C{v % 12:02d}",
                    "route": f"R{v % 150:03d}", "stop": "S01", "mode": "board",
                    "device_time": now, "clock_offset_s": 0.012, "clock_checked_at": now - 60,
                    "backlog": 2000 if v % 200 == 11 else 3,
                    "oldest_unsent_ms": int(now * 1000) - 4000, "trust_kids": ["k2026a", "k2026b"],
                    "trust_fetched_at": now - 300, "denylist_issued_at": int(now) - 600,
                    "denylist_entries": 1200, "denylist_fetched_at": now - 300,
                    "storage": "ok", "storage_free_bytes": 900 * 2**20,
                    "disk_free_bytes": 2 * 2**30, "journal_bytes": 40 * 2**20,
                    "journal_max_bytes": 1 << 30, "journal_epoch": "e1", "software": "1.4.0",
                    "every_s": 30.0}
            # The beat's time is its entry's id (backoffice.heartbeats).
            pipe.xadd(heartbeat(f"VAL{v:04d}"), {"beat": json.dumps(beat)},
                      id=f"{int(at * 1000)}-1")
            pipe.expire(heartbeat(f"VAL{v:04d}"), 3 * 3600)
        pipe.execute()


def run(url: str, args) -> None:
    db.migrate(url)
    start = time.perf_counter()
    with db.engine(url).begin() as conn:
        for statement in FILL:
            conn.execute(sa.text(statement), {"days": args.days, "trips": args.trips})
    with db.engine(url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        sizes = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                 for t in ("ride_hour_route", "ride_day_stop", "ride_day_vehicle", "od_day",
                           "trips")}
    print(f"filled in {time.perf_counter() - start:.0f} s: {sizes}", flush=True)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": Fernet.generate_key().decode(),
                      "OPERATOR_TOKEN": "bench-token-not-secret", "REDIS_URL": args.redis})
    with db.session(url) as session:
        operators.create(session, "analyst", ["analyst"], now=0)
        token = operators.issue_token(session, "analyst", "analyst", now=0)[1]
    gunicorn_conf.post_worker_init(None)  # what each of the server's workers does, loaded
    client = app.test_client()
    first = "2026-11-01"
    last = time.strftime("%Y-%m-%d", time.gmtime(DAY0 + 7 * 3600 + (args.days - 1) * DAY))
    month = f"from={first}&to={last}"
    paths = [
        f"/api/ridership/hourly?date={last}",
        f"/api/ridership/routes?{month}",
        f"/api/ridership/routes?{month}&limit=15",
        f"/api/ridership/stops?{month}&limit=15",
        f"/api/ridership/stops?{month}&route=R042",
        f"/api/ridership/products?{month}",
        f"/api/ridership/vehicles?{month}&limit=15",
        f"/api/ridership/refusals?{month}",
        f"/api/ridership/refusals-hourly?date={last}",
        f"/api/ridership/settlement?{month}",
        f"/api/ridership/settlement?{month}&format=csv",
        f"/api/ridership/od?route=R042&{month}",
        "/api/ridership/validators",
        "/api/ridership/validators?offset=3000&limit=100",
        "/api/ridership/validators?limit=1000",
        "/api/ridership/validators?format=csv",
        "/console/ridership/validators",
        "/api/ridership/alerts",
        "/api/ridership/passes/P000004242/history",
    ]
    headers = {"Authorization": f"Bearer {token}"}
    print(f"{'request':70} {'median ms':>10} {'max ms':>8} {'bytes':>9}")
    for path in paths:
        times = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            response = client.get(path, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])
        print(f"{path:70} {statistics.median(times):10.1f} {max(times):8.1f}"
              f" {len(response.data):9,}", flush=True)


if __name__ == "__main__":
    main()
