"""Locust: riders against the issuer, weighted as riders behave.

    .venv/bin/python -m loadtests.run riders

Each rider signs in once through the e-ID (the development provider, the real OpenID Connect
flow: the issuer's /signin, the provider's citizen chooser, the callback). Then, as riders
behave: most of what a phone does is refresh its credential, once a day when online; riders
without a key-holding phone fetch the QR the issuer makes for them; a few look at their
pass. The provider has a handful of test citizens, so the passes used after sign-in belong
to accounts the load run made through the operator API, reached with their rider tokens.
Requests are grouped by endpoint, not by pass.

Each request is made as a rider drawn afresh from the pool: one Locust user stands for many
phones. A real phone asks for a credential about once a day, and the issuer refuses a
caller more than 20 a minute (issuer.web.limits), so a user that kept one rider's token would
measure the rate limit, not the issuer. Make the pool large enough that the load, spread
over it, stays well under 20 a minute per rider (``--riders``: 1,000 for 100 requests/s).
"""

from __future__ import annotations

import os
import random
import re

from locust import FastHttpUser, between, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from loadtests.system import load_pool

POOL = None
# Test citizens of level 2 at the development provider (idp/citizens.py).
CITIZENS = ["vn-7f3a9c21", "vn-2b8e4d10", "vn-c41d7e88", "vn-e0c6a5f4"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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
        self.sign_in()

    def next_rider(self) -> tuple[dict, dict]:
        """A rider of the pool for the next request, and the header its phone sends."""
        rider = random.choice(pool()["riders"])
        return rider, {"Authorization": f"Bearer {rider['rider_token']}"}

    def sign_in(self) -> None:
        """/signin -> the provider's chooser -> pick a citizen -> /signin/callback -> /my/."""
        with self.client.get("/signin", name="sign in: /signin", allow_redirects=False,
                             catch_response=True) as response:
            authorize = response.headers.get("Location", "")
            if response.status_code != 302 or not authorize.startswith(pool()["idp"]):
                return response.failure(f"/signin answered {response.status_code}")
        with self.client.get(authorize, name="sign in: provider chooser",
                             catch_response=True) as page:
            token = CSRF.search(page.text or "")
            if page.status_code != 200 or token is None:
                return page.failure(f"chooser answered {page.status_code}")
        with self.client.post(authorize, data={"csrf_token": token.group(1),
                                               "sub": random.choice(CITIZENS)},
                              name="sign in: choose citizen", allow_redirects=False,
                              catch_response=True) as chosen:
            callback = chosen.headers.get("Location", "")
            if chosen.status_code != 302 or "/signin/callback" not in callback:
                return chosen.failure(f"provider answered {chosen.status_code}")
        with self.client.get(callback, name="sign in: /signin/callback", allow_redirects=False,
                             catch_response=True) as signed_in:
            if signed_in.status_code not in (302, 303):
                signed_in.failure(f"callback answered {signed_in.status_code}")

    # A rider's phone that holds its key refreshes the credential; a rider without one
    # fetches the QR the issuer makes; either may look at the pass.
    @task(8)
    def refresh_credential(self) -> None:
        rider, auth = self.next_rider()
        if rider["custodial"]:
            return self._qr(rider, auth)
        self.client.post(f"/api/passes/{rider['pass_id']}/credential", json={},
                         headers=auth, name="/api/passes/[id]/credential")

    @task(3)
    def custodial_qr(self) -> None:
        rider, auth = self.next_rider()
        if not rider["custodial"]:
            return self._show(rider, auth)
        self._qr(rider, auth)

    @task(1)
    def show_pass(self) -> None:
        self._show(*self.next_rider())

    def _qr(self, rider: dict, auth: dict) -> None:
        self.client.get(f"/api/passes/{rider['pass_id']}/qr", headers=auth,
                        name="/api/passes/[id]/qr")

    def _show(self, rider: dict, auth: dict) -> None:
        self.client.get(f"/api/passes/{rider['pass_id']}", headers=auth,
                        name="/api/passes/[id]")


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
