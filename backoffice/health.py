"""An ingest worker's health, for whoever watches it: a small JSON file the worker rewrites
every few seconds (``vexe ingest run --health-file PATH``). A file, not a port: several
workers share a host, and each names its own file (docs/operations.md, "Health checks").

What it holds: ``time`` (when written, Unix seconds: a file older than ``STALE_AFTER`` is
a worker stuck or gone), ``ready`` (the database and Redis both answered just now),
``checks`` (each one's answer, with the error when it failed), ``last_batch`` (when it last
wrote trips, or null), ``failures`` (rounds failed in a row) and ``error`` (the last one's).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import redis
import sqlalchemy as sa

from shared import clock

EVERY = 2.0  # seconds between writes
# Seconds after which a reader should count the file's worker as stuck or gone: a round can
# wait on Redis up to its socket timeout (30 s, ingest.connect) before the next write.
STALE_AFTER = 45


class HealthFile:
    def __init__(self, path: Path, engine: sa.Engine, client: redis.Redis, consumer: str):
        self.path = Path(path)
        self.engine = engine
        self.client = client
        self.consumer = consumer
        self._next = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def write(self, *, last_batch: float | None, failures: int, error: str | None) -> dict:
        """Check the database and Redis, and replace the file at once (readers never see
        half of one). OSError if it can't be written."""
        self._next = time.monotonic() + EVERY
        checks = {"database": self._database(), "redis": self._redis()}
        record = {"time": round(clock.now(), 3), "consumer": self.consumer,
                  "ready": all(answer == "ok" for answer in checks.values()),
                  "checks": checks, "last_batch": last_batch and round(last_batch, 3),
                  "failures": failures, "error": error}
        partial = self.path.with_name(f".{self.path.name}.part")
        partial.write_text(json.dumps(record) + "\n")
        os.replace(partial, self.path)
        return record

    def _database(self) -> str:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return "ok"
        except sa.exc.SQLAlchemyError as exc:
            return f"unavailable: {_first_line(getattr(exc, 'orig', None) or exc)}"

    def _redis(self) -> str:
        try:
            self.client.ping()
            return "ok"
        except redis.RedisError as exc:
            return f"unavailable: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
