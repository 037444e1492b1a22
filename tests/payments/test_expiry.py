"""Unpaid orders expire (VEXE_ORDER_EXPIRY_MINUTES): `vexe payments expire`, the order's
page, and a new order for the same month once the old one is gone."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from issuer.platform.models import Order
from vexe.cli import main


def past_due(shop, order_id: str) -> None:
    with shop.engine.begin() as conn:
        conn.execute(sa.update(Order).where(Order.id == order_id).values(expires_at=1))


def test_orders_carry_their_expiry_and_the_command_expires_them(shop, initialised,
                                                                monkeypatch):
    rider = shop.rider()
    order_id = shop.order(rider)
    made = shop.order_row(order_id)
    assert made.expires_at == made.created_at + 60 * 60  # the default, 60 minutes
    monkeypatch.setenv("VEXE_DATA_DIR", initialised["DATA_DIR"])
    monkeypatch.setenv("VEXE_DATABASE_URL", initialised["DATABASE_URL"])
    nothing = CliRunner().invoke(main, ["payments", "expire"])
    assert json.loads(nothing.output) == {"expired": 0}
    past_due(shop, order_id)
    done = CliRunner().invoke(main, ["payments", "expire"])
    assert done.exit_code == 0 and json.loads(done.output) == {"expired": 1}
    assert shop.order_row(order_id).status == "expired"
    assert shop.order(rider) != order_id  # the month can be ordered again


def test_an_expired_order_cannot_be_paid_by_card(shop):
    rider = shop.rider()
    order_id = shop.order(rider)
    past_due(shop, order_id)
    page = rider.get(f"{shop.issuer.url}/my/orders/{order_id}", timeout=10)
    assert 'id="status" data-status="expired">hết hạn, chưa thanh toán<' in page.text
    assert 'id="pay-card"' not in page.text
    pressed = shop.press_pay(rider, order_id)
    assert pressed.status_code == 303 and shop.payments() == []
