"""Locust: a validator's ``POST /scan`` under load, on QR texts of real passes.

    .venv/bin/python -m loadtests.run validator-http

Each request carries a QR made at that moment by a rider's phone (its key from the pool):
mostly fresh, some an old screenshot, a few shown by another phone. The validator answers
after journaling the scan; each answer is checked against the expected reason.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, constant, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from loadtests.system import load_pool
from shared import clock, keys, ticket
from validator.http import CLIENT_HEADER

PHONES = None
STRANGER = keys.new_device_key()


def phones() -> list[tuple[str, object]]:
    """(credential, device key) for each rider with a phone whose pass covers route 01."""
    global PHONES
    if PHONES is None:
        PHONES = [(rider["credential"], keys.load_device_private_pem(rider["device_pem"].encode()))
                  for rider in load_pool()["riders"]
                  if not rider["custodial"] and (rider["product"] != "single"
                                                 or rider["route"] == "01")]
    return PHONES


class ScanningValidator(FastHttpUser):
    wait_time = constant(0)

    @task
    def scan(self) -> None:
        credential, phone = random.choice(phones())
        now = clock.now()
        roll = random.random()
        if roll < 0.8:
            expected, text = "ok", ticket.encode_qr(credential, phone, now)
        elif roll < 0.9:
            expected, text = "stale_proof", ticket.encode_qr(credential, phone, now - 600)
        else:
            expected, text = "bad_proof", ticket.encode_qr(credential, STRANGER, now)
        with self.client.post("/scan", json={"qr": text}, name=f"/scan ({expected})",
                              headers={CLIENT_HEADER: "locust"},
                              catch_response=True) as response:
            reason = (response.json() or {}).get("reason") if response.status_code == 200 else None
            # Two scans of one phone in the same second: the second is rightly "replayed".
            if reason == expected or (expected, reason) == ("ok", "replayed"):
                response.success()
            else:
                response.failure(f"expected {expected}, got {response.status_code} {reason}")


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
