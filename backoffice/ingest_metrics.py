"""The ingest worker's metrics, served by ``vexe ingest run --metrics-port`` for Prometheus.

Counted as the worker goes: entries read from the stream, trips written (new ones: a trip
written twice counts once), entries rejected, failed rounds, each batch's duration,
validators switched off for flooding their inbox (backoffice.inbox.police). Read
from Redis at each scrape (``ingest.gauges``): the stream's length and memory, the entries
pending (read, not acknowledged) and the lag (not read yet), Redis's memory and its limit.
See docs/operations.md, Metrics, for the alerts worth setting on them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import (CollectorRegistry, Counter, Histogram, ProcessCollector,
                               start_http_server)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# The ingest's own: the issuer's metrics (imported with the issuer package) are not its.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files of the worker
READ = Counter("vexe_ingest_entries_read_total", "Stream entries read (new or claimed).",
               registry=REGISTRY)
WRITTEN = Counter("vexe_ingest_trips_written_total",
                  "Trips written to the database for the first time.", registry=REGISTRY)
REJECTED = Counter("vexe_ingest_entries_rejected_total",
                   "Stream entries that are not trips, kept in ingest_rejects.",
                   registry=REGISTRY)
FAILURES = Counter("vexe_ingest_failures_total",
                   "Rounds that failed (Redis or the database away); the worker retries.",
                   registry=REGISTRY)
SWITCHED_OFF = Counter("vexe_ingest_validators_switched_off_total",
                       "Validators whose Redis user was switched off: their inbox was over "
                       "the quota.", registry=REGISTRY)
BATCH = Histogram("vexe_ingest_batch_seconds", "Time to write a batch and acknowledge it.",
                  buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                  registry=REGISTRY)
LAST_BATCH = [0.0]  # Unix time of the last batch written: a stall shows as its age


def batch_done(read: int, written: int, rejected: int, seconds: float) -> None:
    READ.inc(read)
    WRITTEN.inc(written)
    REJECTED.inc(rejected)
    BATCH.observe(seconds)
    LAST_BATCH[0] = time.time()


def failed() -> None:
    FAILURES.inc()


def switched_off() -> None:
    SWITCHED_OFF.inc()


class StreamGauges(Collector):
    """What Redis says at each scrape; ``vexe_ingest_redis_up`` 0 when it can't be asked."""

    def __init__(self, read_gauges: Callable[[], dict]):
        self.read_gauges = read_gauges

    def collect(self):
        up = GaugeMetricFamily("vexe_ingest_redis_up",
                               "1 when Redis answered this scrape's questions.")
        last = GaugeMetricFamily("vexe_ingest_last_batch_timestamp_seconds",
                                 "Unix time of the last batch written (0: none yet).")
        last.add_metric([], LAST_BATCH[0])
        yield last
        try:
            numbers = self.read_gauges()
        except Exception as exc:  # a scrape must answer while Redis is away
            log.warning("metrics: Redis did not answer (%s: %s)", type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, key, help_text in (
                ("vexe_ingest_stream_length", "stream_length", "Entries in the trips stream."),
                ("vexe_ingest_stream_bytes", "stream_bytes", "Memory the trips stream takes."),
                ("vexe_ingest_pending", "pending",
                 "Entries read by a worker and not acknowledged yet."),
                ("vexe_ingest_lag", "lag", "Entries in the stream no worker has read yet."),
                ("vexe_redis_used_memory_bytes", "redis_used_memory", "Redis's used memory."),
                ("vexe_redis_maxmemory_bytes", "redis_maxmemory",
                 "Redis's maxmemory (0: no limit).")):
            if numbers.get(key) is not None:  # no group yet: no pending, no lag
                yield GaugeMetricFamily(name, help_text, value=numbers[key])


def serve(port: int, host: str, read_gauges: Callable[[], dict]) -> None:
    """Serve ``/metrics`` on ``host:port`` in a thread of this process."""
    REGISTRY.register(StreamGauges(read_gauges))
    start_http_server(port, addr=host, registry=REGISTRY)
