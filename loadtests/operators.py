"""Locust: operators on the console while the fleet feeds it.

    .venv/bin/python -m loadtests.run console --users 60

An analyst signs in at /console/login (password and CSRF token, as in a browser), then
looks at the ridership dashboard, the origin-destination matrix and the settlement, and
downloads CSV exports, while simulated buses (loadtests.fleet) push trips that the ingest
turns into the rollups those pages read. Pages and exports are grouped by name.

Each operator comes from an address of its own (a depot's), as the issuer sees it behind
its reverse proxy: the load run's issuer trusts one proxy (``VEXE_TRUSTED_PROXIES=1``,
loadtests.system) and each operator sends ``X-Forwarded-For``. From the one address Locust
runs on, the sign-in limit (10 a minute per address, issuer.limits) would refuse all but
ten of them, and the run would measure the limiter.
"""

from __future__ import annotations

import itertools
import re

from locust import FastHttpUser, between, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from loadtests.fleet import Bus  # noqa: F401  (the buses feeding the console)
from loadtests.system import load_pool

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ADDRESSES = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))


class Operator(FastHttpUser):
    wait_time = between(1, 3)
    weight = 1

    def on_start(self) -> None:
        self.headers = {"X-Forwarded-For": next(_ADDRESSES)}
        username, password = load_pool()["analyst"]
        page = self.get("/console/login", "console: sign-in page")
        token = CSRF.search(page.text or "")
        with self.client.post("/console/login", name="console: sign in", allow_redirects=False,
                              data={"csrf_token": token.group(1) if token else "",
                                    "username": username, "password": password},
                              headers=self.headers, catch_response=True) as response:
            if response.status_code not in (302, 303):
                response.failure(f"sign-in answered {response.status_code}")

    def get(self, path: str, name: str):
        return self.client.get(path, name=name, headers=self.headers)

    @task(4)
    def dashboard(self) -> None:
        self.get("/console/ridership/", "console: dashboard")

    @task(2)
    def od_matrix(self) -> None:
        self.get("/console/ridership/od?route=01", "console: origin-destination")

    @task(2)
    def settlement(self) -> None:
        self.get("/console/ridership/settlement", "console: settlement")

    @task(1)
    def validators(self) -> None:
        self.get("/console/ridership/validators", "console: validators")

    @task(2)
    def export_hourly(self) -> None:
        self.get("/api/ridership/hourly?format=csv", "export: hourly CSV")

    @task(1)
    def export_settlement(self) -> None:
        self.get("/api/ridership/settlement?format=csv", "export: settlement CSV")


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
