"""The issuer's domain counters (Prometheus): credentials minted, sign-ins, orders and
payments. Served with the request counts at ``GET /metrics`` (issuer.web.monitoring).

Under gunicorn each worker counts in its own files in ``PROMETHEUS_MULTIPROC_DIR``
(issuer/gunicorn_conf.py makes it and removes a dead worker's live values); ``/metrics``
adds them up, so a scrape that reaches any worker sees the whole server.
"""

from __future__ import annotations

from prometheus_client import Counter

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CREDENTIALS = Counter("vexe_issuer_credentials_minted_total",
                      "Pass credentials signed, by binding (device: the phone's own key; "
                      "custodial: the issuer holds the key).", ["binding"])
SIGN_INS = Counter("vexe_issuer_sign_ins_total",
                   "Sign-ins: riders through the e-ID, operators with a password; ok or failed.",
                   ["who", "outcome"])
ORDERS = Counter("vexe_issuer_orders_total",
                 "Orders entering a state: pending (made), paid, cancelled, refunded.", ["state"])
PAYMENTS = Counter("vexe_issuer_payments_total",
                   "Payments by provider and state: confirmed, refused (the amount was wrong), "
                   "refunded.", ["provider", "state"])

RIDER, OPERATOR = "rider", "operator"
OK, FAILED = "ok", "failed"


def credential_minted(custodial: bool) -> None:
    CREDENTIALS.labels("custodial" if custodial else "device").inc()


def signed_in(who: str, ok: bool) -> None:
    SIGN_INS.labels(who, OK if ok else FAILED).inc()


def order_state(state: str) -> None:
    ORDERS.labels(state).inc()


def payment(provider: str, state: str) -> None:
    PAYMENTS.labels(provider, state).inc()
