"""Locust users for bench/bench_refresh.py, all of one shape: no wait between requests.

``Refresher`` (and ``PacedRefresher``, at a fixed rate) is a phone refreshing its credential
(the pool's phones in turn, one for each request); ``Hello`` posts
the same empty JSON body to the bare Flask app (bench/hello_app.py). The riders' mix is
loadtests.riders.Rider with ``VEXE_RIDER_WAIT=0``.
"""

from __future__ import annotations

import itertools
import os
import random

from locust import FastHttpUser, constant, constant_throughput, task

from loadtests.system import load_pool

_TURNS = None


def next_phone() -> dict:
    """The pool's phones in turn (shuffled once), shared by every user of this process: each
    phone refreshes as often as the next, as a city's do. Drawn at random instead, at 700
    refreshes a second over 850 phones some phones run past their own rate limit (20 at
    once, then one every 3 s) within a phase, and what is measured is the limit."""
    global _TURNS
    if _TURNS is None:
        pool = [r for r in load_pool()["riders"] if not r["custodial"]]
        random.shuffle(pool)
        _TURNS = itertools.cycle(pool)
    return next(_TURNS)


class Refresher(FastHttpUser):
    wait_time = constant(0)

    @task
    def refresh(self) -> None:
        rider = next_phone()
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
