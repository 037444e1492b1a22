"""An operator's change and its audit entry commit together (issue 23.8), on both
databases: when the audit entry can't be written, the change is not saved either. The audit
table refuses inserts through a trigger; the account, the pass, the payment, the bus company
or the vehicle must then be absent, and present with its one entry once the log takes entries
again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer.platform import db
from issuer.sales import orders
from issuer.platform.models import Account, AuditEntry, Company, Order, Pass, Vehicle
from shared import clock
from tests.identity.conftest import page_csrf

REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"],
    "postgresql": ["CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$",
                   "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"],
}


class AuditLog:
    def __init__(self, url: str):
        self.url = url
        self.engine = db.engine(url)

    def refuse(self) -> None:
        with self.engine.begin() as conn:
            for statement in REFUSE[self.engine.dialect.name]:
                conn.execute(sa.text(statement))

    def accept(self) -> None:
        with self.engine.begin() as conn:
            on = "" if self.engine.dialect.name == "sqlite" else " ON audit_log"
            conn.execute(sa.text(f"DROP TRIGGER refuse_audit{on}"))

    def count(self, model, *where) -> int:
        with db.session(self.url) as s:
            return s.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def log(app):
    return AuditLog(app.config["DATABASE_URL"])


def refused(response) -> bool:
    return response.status_code >= 400 and "error" in response.get_json()


def test_an_account_is_not_made_without_its_entry(api, log):
    log.refuse()
    assert refused(api.call("POST", "/api/accounts",
                            json={"full_name": "Vũ Thị Hoa", "birth_date": "1970-02-02"}))
    assert log.count(Account) == 0 and log.count(AuditEntry) == 0
    log.accept()
    made = api.account("Vũ Thị Hoa", "1970-02-02")
    assert log.count(AuditEntry, AuditEntry.action == "account.create",
                     AuditEntry.target == made["id"]) == 1


def test_a_pass_is_not_issued_without_its_entry(api, log):
    account = api.account()
    log.refuse()
    assert refused(api.call("POST", "/api/passes",
                            json={"account_id": account["id"], "product": "multi"}))
    assert log.count(Pass) == 0
    log.accept()
    p = api.issue(account["id"])
    assert log.count(AuditEntry, AuditEntry.action == "pass.issue",
                     AuditEntry.target == p["id"]) == 1


def test_a_payment_is_not_taken_without_its_entry(api, staff, log):
    account = api.account()
    made = api.ok("POST", "/api/orders", token=account["rider_token"],
                  json={"product": "multi", "month": orders.months_on_sale(clock.now(), 28)[0]})
    clerk = staff.token("thu-ngan", "clerk")
    pay = {"amount_vnd": made["price_vnd"]}
    log.refuse()
    assert refused(api.call("POST", f"/api/orders/{made['id']}/pay", token=clerk, json=pay))
    assert log.count(Order, Order.status == orders.PENDING) == 1 and log.count(Pass) == 0
    log.accept()
    assert api.ok("POST", f"/api/orders/{made['id']}/pay", token=clerk, json=pay)["pass_id"]
    assert log.count(AuditEntry, AuditEntry.action == "order.pay") == 1


def test_a_company_and_a_vehicle_are_not_added_without_their_entries(staff, log):
    admin = staff.browser("quan-tri", "administrator")

    def add(what: str, **typed):
        """The administrator's network page, its form for ``what`` posted."""
        typed["csrf_token"] = page_csrf(admin, "/console/admin/network/")
        return admin.post(f"/console/admin/network/{what}", data=typed)

    company = {"company_code": "TP", "company_name": "Transerco"}
    vehicle = {"vehicle_code": "29B-123.45", "vehicle_company": "TP"}
    log.refuse()
    assert add("companies", **company).status_code >= 400
    assert log.count(Company) == 0
    log.accept()
    assert add("companies", **company).status_code == 303
    log.refuse()
    assert add("vehicles", **vehicle).status_code >= 400
    assert log.count(Vehicle) == 0
    log.accept()
    assert add("vehicles", **vehicle).status_code == 303
    assert log.count(Company) == 1 and log.count(Vehicle) == 1
    assert log.count(AuditEntry, AuditEntry.action == "company.add",
                     AuditEntry.target == "TP") == 1
    assert log.count(AuditEntry, AuditEntry.action == "vehicle.add",
                     AuditEntry.target == "29B-123.45") == 1
