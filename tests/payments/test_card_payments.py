"""Paying an order by card through the gateway (VNPay 2.1 protocol), over real HTTP: the
rider's browser, the issuer and the development gateway each on their own port. Whatever the
network does, an order is paid exactly once, every notification is recorded before it is
answered, and money that does not match is held, never lost."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa

from issuer.platform import db
from issuer.platform.models import Payment
from issuer.sales import settlement
from shared import clock, vnpay
from tests.payments.conftest import HASH_SECRET, TMN_CODE, query_of, served_shop
from tests.testkit import wait_for


def ipn(shop, **fields) -> dict:
    """Call the issuer's IPN as a gateway would, signed with the terminal's secret unless a
    hash is given."""
    base = {"vnp_Amount": "20000000", "vnp_BankCode": "NCB", "vnp_CardType": "ATM",
            "vnp_OrderInfo": "test", "vnp_PayDate": "20261203120000",
            "vnp_ResponseCode": "00", "vnp_TmnCode": TMN_CODE,
            "vnp_TransactionNo": "77000001", "vnp_TransactionStatus": "00"}
    base.update(fields)
    query = (urlencode(base) if "vnp_SecureHash" in base
             else vnpay.signed_query(base, HASH_SECRET))
    answer = requests.get(f"{shop.issuer.url}/api/payments/vnpay/ipn?{query}", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    return answer.json()


class TestPaying:
    def test_pay_the_ipn_settles_and_the_rider_sees_the_pass(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        answer = shop.pay(rider, order_id)
        paid = shop.wait_paid(order_id)
        assert paid.pass_id is not None and paid.provider == "vnpay"
        wait_for(lambda: shop.deliveries() == ["00"], what="the IPN confirmed")
        back = shop.back(rider, answer)
        assert back.status_code == 303
        page = rider.get(shop.issuer.url + back.headers["Location"], timeout=10)
        assert 'id="status" data-status="paid">đã thanh toán<' in page.text
        assert paid.pass_id in page.text
        [payment] = shop.payments(order_id)
        assert payment.state == "paid" and payment.amount_vnd == paid.price_vnd
        assert [n.channel for n in shop.notifications()] == ["ipn", "return"]
        assert all(n.signature_ok for n in shop.notifications())

    def test_the_ipn_twice_at_once_pays_once(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        shop.pay(rider, order_id, ipn="twice")
        wait_for(lambda: len(shop.deliveries()) == 2, what="both IPNs answered")
        assert sorted(shop.deliveries()) == ["00", "02"]
        assert shop.order_row(order_id).status == "paid"
        assert [p.state for p in shop.payments()] == ["paid"]
        ipns = [n for n in shop.notifications() if n.channel == "ipn"]
        assert len(ipns) == 2 and {n.outcome.split(":")[0] for n in ipns} == {"paid",
                                                                             "duplicate"}

    def test_the_return_and_the_ipn_at_once_pay_once_and_hold_nothing(self, shop):
        """The rider's return (querydr) read the attempt while the IPN was paying it: once
        the IPN's unit is committed, the return's settlement is a duplicate, and the money
        that paid the order is not also held for a clerk (who would give it back)."""
        rider = shop.rider()
        order_id = shop.order(rider)
        reference = query_of(shop.to_gateway(rider, order_id))["vnp_TxnRef"]
        notice = settlement.Notice("vnpay", reference, order_id, 200_000, "77000042")
        with db.session(shop.database_url) as returning, db.session(shop.database_url) as ipn:
            # The return's first read, as settle_by_query makes it before asking the gateway
            # (and holds while it asks).
            attempt = returning.scalar(sa.select(Payment).where(Payment.reference == reference))
            returning.commit()
            assert settlement.settle(ipn, notice, notification_id=None,
                                     now=clock.now()).result == "paid"
            ipn.commit()
            late = settlement.settle(returning, notice, notification_id=None, now=clock.now())
            returning.commit()
        assert late.result == "duplicate" and attempt.state == "paid"
        assert [(p.state, p.reason) for p in shop.payments()] == [("paid", None)]
        assert shop.order_row(order_id).status == "paid"

    def test_pressing_pay_twice_is_one_gateway_payment(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        first, second = shop.to_gateway(rider, order_id), shop.to_gateway(rider, order_id)
        assert query_of(first)["vnp_TxnRef"] == query_of(second)["vnp_TxnRef"]
        shop.choose(rider, second, "pay")
        shop.wait_paid(order_id)
        again = rider.get(first, timeout=10)  # the other tab, still open
        assert again.status_code == 409 and 'id="code">94<' in again.text
        assert len(shop.payments(order_id)) == 1
        assert shop.press_pay(rider, order_id).status_code == 303  # a paid order: no new URL
        assert len(shop.payments(order_id)) == 1

    def test_the_return_before_a_late_ipn_asks_querydr(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        answer = shop.pay(rider, order_id, ipn="late")
        assert shop.order_row(order_id).status == "pending"
        back = shop.back(rider, answer)  # before the IPN: querydr settles it
        assert back.status_code == 303 and shop.order_row(order_id).status == "paid"
        wait_for(lambda: shop.deliveries(), what="the late IPN", timeout=30)
        assert shop.deliveries() == ["02"]  # already confirmed
        assert [p.state for p in shop.payments()] == ["paid"]
        assert [n.channel for n in shop.notifications()] == ["return", "querydr", "ipn"]

    def test_no_ipn_ever_the_return_settles_by_querydr(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        back = shop.back(rider, shop.pay(rider, order_id, ipn="never"))
        assert back.status_code == 303
        paid = shop.order_row(order_id)
        assert paid.status == "paid" and paid.pass_id
        assert shop.deliveries() == []

    def test_a_declined_payment_pays_nothing_and_the_rider_tries_again(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        declined = shop.choose(rider, shop.to_gateway(rider, order_id), "decline")
        wait_for(lambda: shop.deliveries() == ["00"], what="the IPN answered")
        assert shop.order_row(order_id).status == "pending"
        back = shop.back(rider, declined)
        page = rider.get(shop.issuer.url + back.headers["Location"], timeout=10)
        assert "Giao dịch không thành công" in page.text
        assert [p.state for p in shop.payments(order_id)] == ["failed"]
        shop.pay(rider, order_id)  # a new attempt, a new transaction reference
        shop.wait_paid(order_id)
        assert [p.state for p in shop.payments(order_id)] == ["failed", "paid"]

    def test_an_abandoned_payment_leaves_the_order_pending(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        left = shop.choose(rider, shop.to_gateway(rider, order_id), "abandon")
        assert left.status_code == 200 and "You left" in left.text
        assert shop.order_row(order_id).status == "pending" and shop.deliveries() == []


class TestRefusedNotifications:
    def test_a_bad_signature_is_97_recorded_and_changes_nothing(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        reference = query_of(shop.to_gateway(rider, order_id))["vnp_TxnRef"]
        answer = ipn(shop, vnp_TxnRef=reference, vnp_SecureHash="ab" * 64)
        assert answer == {"RspCode": "97", "Message": "Invalid signature"}
        [note] = shop.notifications()
        assert not note.signature_ok and "signature" in note.outcome
        assert reference in note.body
        assert shop.order_row(order_id).status == "pending"
        assert [p.state for p in shop.payments(order_id)] == ["started"]

    def test_another_terminal_is_refused(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        reference = query_of(shop.to_gateway(rider, order_id))["vnp_TxnRef"]
        assert ipn(shop, vnp_TxnRef=reference, vnp_TmnCode="OTHER")["RspCode"] == "97"
        assert shop.order_row(order_id).status == "pending"

    def test_a_short_payment_is_held_with_04(self, shop):
        rider = shop.rider()
        order_id = shop.order(rider)
        reference = query_of(shop.to_gateway(rider, order_id))["vnp_TxnRef"]
        assert ipn(shop, vnp_TxnRef=reference, vnp_Amount="19999900")["RspCode"] == "04"
        assert shop.order_row(order_id).status == "pending"
        [held] = shop.payments(order_id)
        assert held.state == "held" and held.amount_vnd == 199_999 and "price" in held.reason
        # The gateway calls again: the same transaction, nothing more happens.
        assert ipn(shop, vnp_TxnRef=reference, vnp_Amount="19999900")["RspCode"] == "02"
        assert len(shop.payments()) == 1

    def test_an_unknown_reference_is_held_with_01(self, shop):
        assert ipn(shop, vnp_TxnRef="0000000000XX")["RspCode"] == "01"
        [held] = shop.payments()
        assert held.state == "held" and held.order_id is None
        assert held.reference == "0000000000XX"

    def test_money_for_an_expired_order_is_held(self, shop, session):
        from issuer.platform.models import Order
        rider = shop.rider()
        order_id = shop.order(rider)
        reference = query_of(shop.to_gateway(rider, order_id))["vnp_TxnRef"]
        session.get(Order, order_id).expires_at = 1  # long past
        session.commit()
        assert ipn(shop, vnp_TxnRef=reference)["RspCode"] == "02"
        assert shop.order_row(order_id).status == "expired"
        [held] = shop.payments(order_id)
        assert held.state == "held" and "expired" in held.reason

    @pytest.mark.parametrize("amount", ["", "abc", "20000050", "-20000000"])
    def test_an_amount_that_is_no_sum_of_dong_is_refused(self, shop, amount):
        assert ipn(shop, vnp_TxnRef="0000000000XX", vnp_Amount=amount)["RspCode"] == "04"
        assert shop.payments() == []
        [note] = shop.notifications()
        assert note.signature_ok and "amount" in note.outcome


def test_the_database_down_during_the_ipn_is_not_acknowledged_then_settles(
        request, initialised):
    """The gateway calls while the issuer's database is unreachable: the issuer answers 99,
    so the gateway calls again, and once the database is back the order is paid, once."""
    if not initialised["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("a database over the network: PostgreSQL")
    from tests.payments.conftest import Relay
    import sqlalchemy as sa

    url = sa.make_url(initialised["DATABASE_URL"])
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    request.addfinalizer(relay.close)
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    with served_shop({**initialised, "DATABASE_URL": relayed}, initialised["DATABASE_URL"],
                     IPN_RETRIES=40, IPN_RETRY_DELAY=0.25) as shop:
        rider = shop.rider()
        order_id = shop.order(rider)
        pay_url = shop.to_gateway(rider, order_id)
        relay.cut()
        shop.choose(rider, pay_url, "pay")
        wait_for(lambda: shop.deliveries().count("99") >= 2, what="refused while down")
        assert shop.order_row(order_id).status == "pending"  # read past the relay
        assert shop.notifications() == []  # nothing recorded, nothing acknowledged
        relay.restore()
        wait_for(lambda: shop.deliveries()[-1:] == ["00"], what="confirmed once back")
        assert set(shop.deliveries()[:-1]) == {"99"}
        assert shop.order_row(order_id).status == "paid"
        assert [p.state for p in shop.payments()] == ["paid"]
        [note] = shop.notifications()
        assert note.channel == "ipn" and note.outcome.startswith("paid")
