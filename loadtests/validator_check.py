"""Locust: the validator's offline check, driven in-process on real QR texts.

    .venv/bin/locust -f loadtests/validator_check.py --headless -u 4 -r 4 -t 30s

Each user is a validator deciding on a realistic mix of scans: mostly fresh QRs, some shown
again after the freshness window, a few forged. Each decision is reported to Locust with
its own timing, grouped by the expected outcome.
"""

from __future__ import annotations

import itertools
import random
import time

from locust import User, constant, events, task

from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import shapes
from shared import clock, keys, ticket
from shared.denylist import Denylist
from validator.check import check

ROUTE = "32"
POOL = 50


def _make_pool(now: int) -> tuple[keys.TrustList, list[tuple[str, str]]]:
    """(trust list, [(expected reason, QR text)]) for a day's worth of passes."""
    signing = keys.new_signing_key()
    trust = keys.TrustList([keys.TrustedKey(keys.key_id(signing), signing.public_key())])
    start, end = clock.month_bounds(*clock.hanoi_month(now))
    pool = []
    for n in range(POOL):
        device = keys.new_device_key()
        credential = ticket.mint_credential(
            signing, jti=f"lt{n:06d}", pass_id=f"LOAD{n:06d}", product="S", routes=[ROUTE],
            valid_from=start, valid_until=end, device_key=keys.device_public_compressed(device),
            now=now)
        pool.append(("ok", ticket.encode_qr(credential, device, now)))
        pool.append(("stale_proof", ticket.encode_qr(credential, device, now - 600)))
        forged = ticket.encode_qr(credential, keys.new_device_key(), now)
        pool.append(("bad_proof", forged))
    # Weights as a bus sees them: 8 fresh, 1 stale, 1 forged.
    weighted = [item for item in pool for _ in range(8 if item[0] == "ok" else 1)]
    random.Random(7).shuffle(weighted)
    return trust, weighted


class ValidatorUser(User):
    """A validator deciding on scans as fast as they come."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.now = int(clock.now())
        self.trust, pool = _make_pool(self.now)
        self.scans = itertools.cycle(pool)
        self.denylist = Denylist.empty()

    @task
    def scan(self) -> None:
        expected, text = next(self.scans)
        started = time.perf_counter()
        decision = check(text, trust=self.trust, denylist=self.denylist, route=ROUTE,
                         vehicle="29B-LOAD", now=self.now)
        elapsed_ms = (time.perf_counter() - started) * 1000
        error = None
        if decision.reason != expected:
            error = AssertionError(f"expected {expected}, got {decision.reason}")
        events.request.fire(request_type="check", name=expected, response_time=elapsed_ms,
                            response_length=len(text), exception=error, context={})


MorningPeak = shapes.selected()  # the morning-peak shape when VEXE_SHAPE=peak
