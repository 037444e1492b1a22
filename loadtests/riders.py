"""Locust: riders against the issuer, weighted as riders behave.

    .venv/bin/python -m loadtests.run riders

Most of what a rider's phone does is refresh its credential, once a day when online; riders
without a key-holding phone fetch the QR the issuer makes for them; a few look at their
pass. Requests are grouped by endpoint, not by pass.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests.system import load_pool

POOL = None


def pool() -> dict:
    global POOL
    if POOL is None:
        POOL = load_pool()
    return POOL


# Seconds a rider waits between requests; 0 measures how much the issuer can take.
WAIT = float(os.environ.get("VEXE_RIDER_WAIT", "2"))


class Rider(FastHttpUser):
    wait_time = between(WAIT / 4, WAIT)

    def on_start(self) -> None:
        self.rider = random.choice(pool()["riders"])
        self.auth = {"Authorization": f"Bearer {self.rider['rider_token']}"}

    @task(8)
    def refresh_credential(self) -> None:
        if self.rider["custodial"]:
            return self.custodial_qr()
        self.client.post(f"/api/passes/{self.rider['pass_id']}/credential", json={},
                         headers=self.auth, name="/api/passes/[id]/credential")

    @task(3)
    def custodial_qr(self) -> None:
        if not self.rider["custodial"]:
            return self.show_pass()
        self.client.get(f"/api/passes/{self.rider['pass_id']}/qr", headers=self.auth,
                        name="/api/passes/[id]/qr")

    @task(1)
    def show_pass(self) -> None:
        self.client.get(f"/api/passes/{self.rider['pass_id']}", headers=self.auth,
                        name="/api/passes/[id]")
