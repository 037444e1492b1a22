"""Locust: the renewal rush, the evenings before the month turns.

    .venv/bin/python -m loadtests.run renewal

The system runs with its clock on the evening of the 28th (Hanoi time), next month on sale,
the development payment gateway beside the issuer and bank-transfer notifications taken.
Two kinds of users share the run:

- ``Renewer``: a rider who renews. Each renewal takes a rider of the pool who has not
  renewed yet: the app reads the catalogue, orders next month's pass (same product and
  route), and pays, half by card through the gateway (the app asks for the gateway's URL,
  the rider's browser pays on the gateway's page and comes back; the gateway's IPN and the
  return race to settle, as they do), half by VietQR transfer (the load run plays the bank's
  statement service and posts its signed notification). The app waits for the order to be
  paid, then the phone refreshes its credential and must find next month's in the answer.
- ``Rider`` (loadtests.riders): riders refreshing their credentials meanwhile.

Besides the requests, two lines in Locust's table measure the rush: ``renewal: paid order``
(one per order paid; its rate is paid orders per second and its time runs from pressing
Buy to the order paid) and ``renewal: next month on the phone`` (from Buy to the phone
holding next month's credential). A renewal whose phone does not get next month's
credential is a failure.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time

import gevent
from locust import FastHttpUser, between, task

from issuer.sales import bank
from loadtests import gate  # noqa: F401  (the fail gate's options and check)
from loadtests import riders
from loadtests.riders import Rider  # noqa: F401  (the refreshing riders of the same run)

FORM = re.compile(r'<form method="post" action="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAID_WAIT_S = 15  # how long an app waits for its order to be paid before it is a failure

_turns = None
_turns_lock = threading.Lock()
_renewals = itertools.count()  # odd: by card, even: by transfer
_transfers = itertools.count(1)  # the bank's transaction ids


def next_renewer() -> dict | None:
    """A rider of the pool who has not renewed yet (one renewal each: a second order for
    the same month is refused by design), or None when all have."""
    global _turns
    with _turns_lock:
        if _turns is None:
            _turns = iter([r for r in riders.pool()["riders"] if not r["custodial"]])
        return next(_turns, None)


class Renewer(FastHttpUser):
    wait_time = between(riders.WAIT / 4, riders.WAIT)
    weight = 1

    @task
    def renew(self) -> None:
        rider = next_renewer()
        if rider is None:  # every rider of the pool has renewed: nothing left to do
            gevent.sleep(1)
            return
        auth = {"Authorization": f"Bearer {rider['rider_token']}"}
        started = time.monotonic()
        self.client.get("/api/catalogue", name="/api/catalogue")
        month = riders.pool()["months_on_sale"][-1]
        fields = {"product": rider["product"], "month": month}
        if rider["product"] == "single":
            fields["route"] = rider["route"]
        with self.client.post("/api/orders", json=fields, headers=auth, name="/api/orders",
                              catch_response=True) as made:
            if made.status_code != 201:
                return made.failure(f"order answered {made.status_code}: {made.text[:200]}")
            order = made.json()
        paying = self._by_card if next(_renewals) % 2 else self._by_transfer
        if not paying(order, auth):
            return
        paid = self._wait_paid(order["id"], auth)
        if paid is None:
            return
        self._record("renewal: paid order", started)
        self._pick_up(rider, paid, auth, started)

    def _by_card(self, order: dict, auth: dict) -> bool:
        with self.client.post(f"/api/orders/{order['id']}/pay/card", json={}, headers=auth,
                              name="/api/orders/[id]/pay/card", catch_response=True) as started:
            if started.status_code != 200:
                started.failure(f"pay/card answered {started.status_code}")
                return False
            url = started.json()["payment_url"]
        # The rider's browser at the gateway: its page, then Pay; the gateway sends the IPN
        # and the browser back to the issuer, which asks querydr if the IPN has not come.
        with self.client.get(url, name="gateway: payment page", catch_response=True) as page:
            form, token = FORM.search(page.text or ""), CSRF.search(page.text or "")
            if page.status_code != 200 or form is None or token is None:
                page.failure(f"the gateway's page answered {page.status_code}")
                return False
        gateway = riders.pool()["gateway"]
        with self.client.post(gateway + form.group(1), name="gateway: pay",
                              data={"csrf_token": token.group(1), "action": "pay",
                                    "ipn": "now"},
                              allow_redirects=False, catch_response=True) as chosen:
            back = chosen.headers.get("Location", "")
            if chosen.status_code != 302 or "/my/payments/card/return" not in back:
                chosen.failure(f"the gateway answered {chosen.status_code}")
                return False
        with self.client.get(back, headers=auth, name="/my/payments/card/return",
                             allow_redirects=False, catch_response=True) as returned:
            if returned.status_code != 303:
                returned.failure(f"the return answered {returned.status_code}")
                return False
        return True

    def _by_transfer(self, order: dict, auth: dict) -> bool:
        """The bank's statement service tells the issuer of the transfer the payer made
        from the order's VietQR: signed, stamped with the system's clock."""
        settings = riders.pool()["bank"]
        now = time.time() + riders.pool()["clock_offset"]
        serial = next(_transfers)
        body = json.dumps({
            "id": serial, "gateway": "Vietcombank",
            "transactionDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 7 * 3600)),
            "accountNumber": settings["account"], "content": f"VX{order['id']} gia han",
            "transferType": "in", "transferAmount": order["price_vnd"],
            "referenceCode": f"FT-LOAD-{serial}", "description": ""}).encode()
        stamp = str(int(now))
        with self.client.post("/api/payments/bank-notifications", data=body,
                              name="/api/payments/bank-notifications", catch_response=True,
                              headers={"Content-Type": "application/json",
                                       bank.TIMESTAMP_HEADER: stamp,
                                       bank.SIGNATURE_HEADER: bank.sign(settings["secret"],
                                                                        stamp, body)}) as told:
            if told.status_code != 200 or told.json().get("outcome") != "paid":
                told.failure(f"the notification answered {told.status_code}: "
                             f"{(told.text or '')[:200]}")
                return False
        return True

    def _wait_paid(self, order_id: str, auth: dict) -> dict | None:
        deadline = time.monotonic() + PAID_WAIT_S
        while True:
            with self.client.get(f"/api/orders/{order_id}", headers=auth,
                                 name="/api/orders/[id]", catch_response=True) as shown:
                if shown.status_code != 200:
                    shown.failure(f"the order answered {shown.status_code}")
                    return None
                order = shown.json()
                if order["status"] == "paid":
                    return order
                if time.monotonic() > deadline:
                    shown.failure(f"order {order_id} still {order['status']} after "
                                  f"{PAID_WAIT_S} s")
                    return None
            gevent.sleep(0.2)

    def _pick_up(self, rider: dict, paid: dict, auth: dict, started: float) -> None:
        """The phone's next refresh of this month's pass carries next month's credential."""
        with self.client.post(f"/api/passes/{rider['pass_id']}/credential", json={},
                              headers=auth, name="/api/passes/[id]/credential",
                              catch_response=True) as refreshed:
            following = (refreshed.json() or {}).get("next") if refreshed.status_code == 200 \
                else None
            if not following or following.get("pass_id") != paid["pass_id"]:
                refreshed.failure(f"no credential for next month's pass {paid['pass_id']} "
                                  f"in the refresh ({refreshed.status_code})")
                return
        self._record("renewal: next month on the phone", started)

    def _record(self, name: str, started: float) -> None:
        self.environment.events.request.fire(
            request_type="RUSH", name=name, response_time=(time.monotonic() - started) * 1000,
            response_length=0, exception=None, context={})
