"""Locust users for bench/bench_refresh.py, all of one shape: no wait between requests.

``Refresher`` (and ``PacedRefresher``, at a fixed rate) is a phone refreshing its credential
(a rider drawn from the pool for each request, as in loadtests/riders.py); ``Hello`` posts
the same empty JSON body to the bare Flask app (bench/hello_app.py). The riders' mix is
loadtests.riders.Rider with ``VEXE_RIDER_WAIT=0``.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant, constant_throughput, task

from loadtests.system import load_pool

POOL: list[dict] | None = None


def phones() -> list[dict]:
    global POOL
    if POOL is None:
        POOL = [r for r in load_pool()["riders"] if not r["custodial"]]
    return POOL


class Refresher(FastHttpUser):
    wait_time = constant(0)

    @task
    def refresh(self) -> None:
        rider = random.choice(phones())
        self.client.post(f"/api/passes/{rider['pass_id']}/credential", json={},
                         headers={"Authorization": f"Bearer {rider['rider_token']}"},
                         name="/api/passes/[id]/credential")


class PacedRefresher(Refresher):
    """Refreshes at a fixed rate (``VEXE_REFRESH_PER_USER`` a second each): the target
    rate, to see its latencies rather than the ceiling."""

    wait_time = constant_throughput(float(os.environ.get("VEXE_REFRESH_PER_USER", "1")))


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self) -> None:
        self.client.post("/hello", json={}, headers={"Authorization": "Bearer hello"},
                         name="/hello")
