"""``vexe ingest``, ``vexe company`` and ``vexe vehicle``: the ridership side of the command line."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click
import redis

from issuer.platform import db, settings
from issuer.platform.commandline import Group, cli_actor, command_session, emit, fail
from backoffice import ingest, ingest_metrics, reports, store
from issuer.network import actions as network_actions
from issuer.network import fleet
from backoffice.clones import DEFAULT_WINDOW_MINUTES
from backoffice.health import HealthFile
from shared import clock, logs
from shared.redis_keys import trips_stream


@click.group("ingest", cls=Group)
def ingest_group() -> None:
    """The trips stream into the database: rollups, journeys, cloned-pass alerts."""


@ingest_group.command("run")
@click.option("--consumer", default=None, help="This worker's name in the consumer group "
              "(default: host-pid). Give a fixed name to pick up its own pending entries.")
@click.option("--batch", default=ingest.BATCH, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--claim-idle", default=ingest.CLAIM_IDLE_MS / 1000, show_default=True,
              type=click.FloatRange(0.1, 86400), help="Seconds an entry stays pending on "
              "another worker before this one takes it over.")
@click.option("--clone-window", default=DEFAULT_WINDOW_MINUTES, show_default=True,
              type=click.FloatRange(0.1, 240), help="Minutes: the same pass boarding two "
              "vehicles within this raises a cloned-pass alert.")
@click.option("--retain", default=None, type=click.FloatRange(0, 7 * 24 * 60),
              help="Minutes an acknowledged entry stays in the stream, for a person to look "
              "at, before it is trimmed (default: the setting VEXE_INGEST_RETAIN_MINUTES, 60).")
@click.option("--max-age", default=None, type=click.FloatRange(1, 3660),
              help="Days: an older trip is turned away with a reason, not counted in days "
              "already reported (default: the setting VEXE_INGEST_MAX_AGE_DAYS, 35).")
@click.option("--inbox-quota", default=None, type=click.IntRange(1000, 10_000_000),
              help="Entries a validator's inbox may hold: one over it is switched off and "
              "its inbox cut back (default: the setting VEXE_INGEST_INBOX_QUOTA, 20000).")
@click.option("--once", is_flag=True, help="Write everything in the stream now (what dead "
              "workers left pending too), then stop.")
@click.option("--shard", default=None, help="On a Redis Cluster: the shard (validator group) "
              "whose stream this worker reads.")
@click.option("--health-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A JSON file rewritten every few seconds: ready or not and why, the last "
              "batch, failures in a row (docs/operations.md).")
@click.option("--metrics-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Serve Prometheus metrics on this port (GET /metrics); 0 = off.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="The address the metrics listen on.")
def ingest_run(consumer: str | None, batch: int, claim_idle: float, clone_window: float,
               retain: float | None, max_age: float | None, inbox_quota: int | None,
               once: bool,
               shard: str | None, health_file: Path | None, metrics_port: int,
               metrics_host: str) -> None:
    """Run an ingest worker until SIGTERM or Ctrl-C (the batch in hand is finished first)."""
    if once and health_file is not None:
        fail("--health-file is for a worker that keeps running, not --once", 2)
    shard = _shard(shard)  # checked before anything starts
    config = settings.load()
    url = config["DATABASE_URL"]
    try:
        logs.setup()
    except logs.SettingError as exc:
        fail(str(exc), 2)
    db.refuse_unless_at_head(url)
    retain = config["INGEST_RETAIN_MINUTES"] if retain is None else retain
    max_age = config["INGEST_MAX_AGE_DAYS"] if max_age is None else max_age
    inbox_quota = config["INGEST_INBOX_QUOTA"] if inbox_quota is None else inbox_quota
    logging.getLogger(__name__).info("ingest starting: %s", settings.start_line(config))
    worker = ingest.Worker(url, ingest.connect(config["REDIS_URL"]),
                           consumer or ingest.default_consumer(), batch=batch,
                           claim_idle_ms=int(claim_idle * 1000),
                           retain_ms=int(retain * 60_000), max_age_ms=int(max_age * 86400_000),
                           limits=store.Limits(clone_window_ms=int(clone_window * 60_000)),
                           shard=shard, inbox_quota=inbox_quota)
    if metrics_port:
        try:
            ingest_metrics.serve(metrics_port, metrics_host,
                                 lambda: ingest.gauges(worker.client, worker.shard))
        except OSError as exc:
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}", 2)
    if once:
        try:
            total = worker.once(clock.now())
        except redis.OutOfMemoryError:
            fail("Redis is at maxmemory and the consumer group does not exist yet: "
                 "nothing can be read until Redis has room", 1)
        emit({"consumer": worker.consumer, "entries": total})
        return
    health = None
    if health_file is not None:
        health = HealthFile(health_file, worker.engine, worker.client, worker.consumer)
        health.write(last_batch=None, failures=0, error=None)  # a path that can't be: say so now
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.run(stop, health)


def _shard(shard: str | None) -> str | None:
    if shard is not None:
        try:
            trips_stream(shard)
        except ValueError as exc:
            fail(str(exc), 2)
    return shard


@ingest_group.command("status")
@click.option("--shard", default=None, help="On a Redis Cluster: the shard to report on.")
def ingest_status(shard: str | None) -> None:
    """The stream and the consumer group: length, memory, entries waiting, pending per
    consumer, stalled workers, entries turned away."""
    config = settings.load()
    try:
        out = ingest.status(ingest.connect(config["REDIS_URL"]), _shard(shard))
    except redis.RedisError as exc:
        fail(f"Redis unavailable: {exc}", 1)
    with db.session(config["DATABASE_URL"]) as session:
        out["rejected"] = reports.rejects_count(session)
    emit(out)


@click.group(cls=Group)
def company() -> None:
    """Bus companies, paid for what their vehicles carry."""


@company.command("add")
@click.argument("code")
@click.option("--name", required=True)
def company_add(code: str, name: str) -> None:
    """Add a bus company."""
    with command_session() as (_, session):
        added = network_actions.add_company(session, cli_actor(), code, name, now=clock.now())
        emit(fleet.company_dict(added))


@company.command("list")
def company_list() -> None:
    with command_session() as (_, session):
        emit([fleet.company_dict(c) for c in fleet.companies(session)])


@click.group(cls=Group)
def vehicle() -> None:
    """Vehicles and the company running each."""


@vehicle.command("add")
@click.argument("code")
@click.option("--company", "company_code", required=True)
def vehicle_add(code: str, company_code: str) -> None:
    """Add a vehicle (its plate, as its validators name it) to a company."""
    with command_session() as (_, session):
        added = network_actions.add_vehicle(session, cli_actor(), code, company_code,
                                            now=clock.now())
        emit(fleet.vehicle_dict(added))


@vehicle.command("list")
@click.option("--company", "company_code", default=None)
def vehicle_list(company_code: str | None) -> None:
    with command_session() as (_, session):
        emit([fleet.vehicle_dict(v) for v in fleet.vehicles(session, company_code)])


commands = [ingest_group, company, vehicle]
