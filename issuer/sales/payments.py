"""Payment providers: how the money for an order is taken and given back.

An order does not know how it is paid; it names a provider, and the provider says what the
rider is to do, checks a payment before the order counts as paid, and says how a refund
reaches the rider. The one that exists for real today is the sales counter: the rider brings
the order number, a clerk takes the cash and confirms it in the console.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from issuer.platform import ids
from issuer.platform.errors import Invalid, Word
from shared.i18n import N_
from issuer.platform.models import Order


class PaymentProvider(ABC):
    name: str

    @abstractmethod
    def instructions(self, order: Order) -> dict:
        """What the rider is told to do to pay, in Vietnamese and English."""

    @abstractmethod
    def confirm(self, order: Order, *, amount_vnd: int) -> str:
        """Check a payment of ``amount_vnd`` for ``order``; the payment's reference."""

    @abstractmethod
    def refund_instructions(self, order: Order) -> dict:
        """How the money goes back to the rider."""


class CounterPayments(PaymentProvider):
    """Cash at a sales counter, taken by a clerk."""

    name = "counter"

    def instructions(self, order: Order) -> dict:
        price = f"{order.price_vnd:,}".replace(",", ".")
        return {"vi": f"Mang mã đơn {order.id} đến quầy bán vé và trả {price} đồng tiền mặt.",
                "en": f"Bring order number {order.id} to a sales counter and pay "
                      f"{price} VND in cash."}

    def confirm(self, order: Order, *, amount_vnd: int) -> str:
        # The clerk types what the rider handed over, less change: it must be the price, so
        # a slip of the finger is caught at the counter rather than at the end of the day.
        if type(amount_vnd) is not int or amount_vnd != order.price_vnd:
            raise Invalid(N_("the amount taken must be the order's price, %(price)s VND"),
                          price=order.price_vnd)
        return f"Q{ids.new_id()}"

    def refund_instructions(self, order: Order) -> dict:
        return {"vi": "Nhận lại tiền mặt tại quầy bán vé.",
                "en": "The cash is paid back at the sales counter."}


class OnlinePayments(PaymentProvider):
    """Money that arrives by itself, announced by a signed notification and settled by
    :mod:`issuer.sales.settlement`: never confirmed by a clerk's hand."""

    def __init__(self, name: str, refund_vi: str, refund_en: str):
        self.name = name
        self._refund = {"vi": refund_vi, "en": refund_en}

    def instructions(self, order: Order) -> dict:
        return {"vi": "Thanh toán trực tuyến trên trang đơn hàng.",
                "en": "Pay online on the order's page."}

    def confirm(self, order: Order, *, amount_vnd: int) -> str:
        raise Invalid(N_("order %(id)s is paid online (%(provider)s): the payment settles "
                         "when the notification arrives, not at the counter"), id=order.id,
                      provider=Word(self.name, "provider"))

    def refund_instructions(self, order: Order) -> dict:
        return dict(self._refund)


GATEWAY = "vnpay"
BANK = "vietqr"
PROVIDERS: dict[str, PaymentProvider] = {p.name: p for p in (
    CounterPayments(),
    OnlinePayments(GATEWAY, "Tiền được hoàn về thẻ hoặc ví đã thanh toán.",
                   "The money goes back to the card or wallet that paid."),
    OnlinePayments(BANK, "Tiền được chuyển khoản trả về tài khoản đã chuyển.",
                   "The money is transferred back to the account that paid."))}
DEFAULT = CounterPayments.name


def provider(name: str) -> PaymentProvider:
    if name not in PROVIDERS:
        raise Invalid(N_("payment provider must be one of %(providers)s, got %(got)s"),
                      providers=", ".join(PROVIDERS), got=repr(name))
    return PROVIDERS[name]
