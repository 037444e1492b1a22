"""An operator's action and its audit entry are one unit of work (issue 23.8): a payment at
the counter committed, then its audit entry separately, so a PostgreSQL crash between the two
left an order paid, its pass issued, the clerk told 503 and no audit entry.

Here the database really goes away: the issuer's own backend is terminated from another
connection at the moment the audit entry is about to be written, or the commit sent. Either
both the payment and its entry are there or neither is, and the clerk's answer says which."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer.platform import db
from issuer.identity import operators
from issuer.sales import orders
from issuer.platform.models import AuditEntry, Order, Pass
from shared import clock
from tests.identity.conftest import csrf_from
from tests.testkit import PG_URL, scratch_database


@pytest.fixture
def database_url(tmp_path):
    """PostgreSQL only: killing a server backend is what the crash is."""
    with scratch_database("postgresql", tmp_path) as url:
        yield url


class Crash:
    """Terminates the issuer's backend when a statement or the commit is about to be sent."""

    def __init__(self, url: str):
        self.engine = db.engine(url)
        self.admin = sa.create_engine(PG_URL)
        self.fired = 0

    def _kill(self, dbapi_connection) -> None:
        self.fired += 1
        with self.admin.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                         {"pid": dbapi_connection.info.backend_pid})

    def before_audit_insert(self, conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO audit_log") and not self.fired:
            self._kill(cursor.connection)

    def before_commit(self, conn):
        if not self.fired:
            self._kill(conn.connection.dbapi_connection)

    def arm(self, moment: str) -> None:
        if moment == "audit entry":
            sa.event.listen(self.engine, "before_cursor_execute", self.before_audit_insert)
        else:
            sa.event.listen(self.engine, "commit", self.before_commit)

    def disarm(self) -> None:
        for name, hook in (("before_cursor_execute", self.before_audit_insert),
                           ("commit", self.before_commit)):
            if sa.event.contains(self.engine, name, hook):
                sa.event.remove(self.engine, name, hook)
        self.admin.dispose()


@pytest.fixture
def crash(app):
    crash = Crash(app.config["DATABASE_URL"])
    yield crash
    crash.disarm()


def state(url: str, order_id: str) -> tuple[str, int, int]:
    """The order's status, the passes and the order.pay entries, read afresh."""
    with db.session(url) as s:
        return (s.get(Order, order_id).status,
                s.scalar(sa.select(sa.func.count()).select_from(Pass)),
                s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "order.pay")))


@pytest.mark.parametrize(("moment", "answer"), [
    ("audit entry", "nothing was saved"),
    ("commit", "saved together or not at all"),
])
def test_a_crash_mid_payment_saves_both_or_neither(app, api, staff, crash, moment, answer):
    account = api.account()
    made = api.ok("POST", "/api/orders", token=account["rider_token"],
                  json={"product": "multi", "month": orders.months_on_sale(clock.now(), 28)[0]})
    clerk = staff.browser("quay", operators.CLERK)
    page = clerk.get(f"/console/counter/{made['id']}")
    form = {"csrf_token": csrf_from(page.text), "amount_vnd": str(made["price_vnd"])}

    crash.arm(moment)
    told = clerk.post(f"/console/counter/{made['id']}/pay", data=form,
                      headers={"Accept-Language": "en"})  # the English, as the test reads
    assert crash.fired == 1
    assert told.status_code == 503 and answer in told.text
    # Neither the payment nor its pass nor its entry: the clerk takes the payment again.
    assert state(app.config["DATABASE_URL"], made["id"]) == (orders.PENDING, 0, 0)

    again = clerk.post(f"/console/counter/{made['id']}/pay", data=form)
    assert again.status_code == 302 and again.headers["Location"].endswith("/receipt")
    assert state(app.config["DATABASE_URL"], made["id"]) == (orders.PAID, 1, 1)
