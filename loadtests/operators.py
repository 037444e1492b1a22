"""Locust: operators on the console while the fleet feeds it.

    .venv/bin/python -m loadtests.run console --users 60

An analyst signs in at /console/login (password and CSRF token, as in a browser), then
looks at the ridership dashboard, the origin-destination matrix and the settlement, and
downloads CSV exports, while simulated buses (loadtests.fleet) push trips that the ingest
turns into the rollups those pages read. Pages and exports are grouped by name.

Every operator signs in from the one address Locust runs on, as a depot's shift does behind
its NAT: the sign-in limit counts failed attempts only (issuer.web.limits).
"""

from __future__ import annotations

import re

from locust import FastHttpUser, between, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from loadtests.fleet import Bus  # noqa: F401  (the buses feeding the console)
from loadtests.system import load_pool

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Operator(FastHttpUser):
    wait_time = between(1, 3)
    weight = 1

    def on_start(self) -> None:
        username, password = load_pool()["analyst"]
        page = self.client.get("/console/login", name="console: sign-in page")
        token = CSRF.search(page.text or "")
        with self.client.post("/console/login", name="console: sign in", allow_redirects=False,
                              data={"csrf_token": token.group(1) if token else "",
                                    "username": username, "password": password},
                              catch_response=True) as response:
            if response.status_code not in (302, 303):
                response.failure(f"sign-in answered {response.status_code}")

    @task(4)
    def dashboard(self) -> None:
        self.client.get("/console/ridership/", name="console: dashboard")

    @task(2)
    def od_matrix(self) -> None:
        self.client.get("/console/ridership/od?route=01", name="console: origin-destination")

    @task(2)
    def settlement(self) -> None:
        self.client.get("/console/ridership/settlement", name="console: settlement")

    @task(1)
    def validators(self) -> None:
        self.client.get("/console/ridership/validators", name="console: validators")

    @task(2)
    def export_hourly(self) -> None:
        self.client.get("/api/ridership/hourly?format=csv", name="export: hourly CSV")

    @task(1)
    def export_settlement(self) -> None:
        self.client.get("/api/ridership/settlement?format=csv", name="export: settlement CSV")


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
