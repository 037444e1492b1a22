"""The day's reconciliation per provider (`vexe payments reconcile`, and its console page
with a CSV export): the sums, and every mismatch listed."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from shared import clock
from tests.payments.test_bank_transfers import credit, notify
from tests.payments.test_card_payments import ipn
from tests.testkit import wait_for
from vexe.cli import main


def a_day_of_payments(shop) -> str:
    """A card payment, a transfer, a short transfer (held), a forged IPN: today."""
    rider = shop.rider()
    first = shop.order(rider)
    shop.pay(rider, first)
    shop.wait_paid(first)
    other = shop.rider("vn-c41d7e88")
    second = shop.order(other)
    notify(shop, credit(id="FT1", content=f"VX{second}"))
    third = shop.order(shop.rider("vn-2b8e4d10"))
    notify(shop, credit(id="FT2", content=f"VX{third}", transferAmount=150_000))
    assert ipn(shop, vnp_TxnRef=f"{third}01", vnp_SecureHash="00" * 64)["RspCode"] == "97"
    wait_for(lambda: shop.deliveries() == ["00"], what="the IPN answered")
    return clock.iso(clock.now())[:10]


def by_item(text: str) -> dict:
    return {(r["provider"], r["item"]): r for r in csv.DictReader(io.StringIO(text))}


def test_the_command_sums_each_provider_and_lists_mismatches(shop, initialised, monkeypatch):
    day = a_day_of_payments(shop)
    monkeypatch.setenv("VEXE_DATA_DIR", initialised["DATA_DIR"])
    monkeypatch.setenv("VEXE_DATABASE_URL", initialised["DATABASE_URL"])
    result = CliRunner().invoke(main, ["payments", "reconcile", "--date", day])
    assert result.exit_code == 0, result.output
    rows = by_item(result.output)
    assert rows[("vnpay", "orders paid")]["count"] == "1"
    assert rows[("vnpay", "orders paid")]["amount_vnd"] == "200000"
    assert rows[("vietqr", "orders paid")]["count"] == "1"
    assert rows[("vietqr", "held")]["amount_vnd"] == "150000"
    assert rows[("vnpay", "notifications")]["detail"] == "1 with a bad signature"
    mismatches = [r for r in rows.values() if r["kind"] == "mismatch"]
    assert sorted(r["provider"] for r in mismatches) == ["vietqr", "vnpay"]
    assert any("bad signature" in r["item"] for r in mismatches)
    assert any("held" in r["item"] and "price" in r["detail"] for r in mismatches)
    empty = CliRunner().invoke(main, ["payments", "reconcile", "--date", "2020-01-01"])
    assert all(r["count"] == "0" for r in by_item(empty.output).values())
    bad = CliRunner().invoke(main, ["payments", "reconcile", "--date", "yesterday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_the_console_page_and_its_csv(shop):
    day = a_day_of_payments(shop)
    clerk = shop.clerk()
    page = clerk.get(f"{shop.issuer.url}/console/payments/reconcile?date={day}", timeout=10)
    assert page.status_code == 200 and 'class="mismatch"' in page.text
    exported = clerk.get(f"{shop.issuer.url}/console/payments/reconcile",
                         params={"date": day, "format": "csv"}, timeout=10)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert by_item(exported.text)[("vnpay", "orders paid")]["count"] == "1"
