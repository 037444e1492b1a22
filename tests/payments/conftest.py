"""Fixtures for paying online: the issuer, the development e-ID and the development payment
gateway, each served on its own port and talking over real HTTP; a rider's browser (a
requests session) that signs in, orders and pays; and a TCP relay in front of PostgreSQL
that a test cuts to take the database away from the issuer."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import sqlalchemy as sa

import gateway as dev_gateway
import idp
from issuer import create_app
from issuer.identity import operators
from issuer.platform import db
from issuer.platform.models import Order, Payment, PaymentNotification
from issuer.sales import orders
from shared import clock
from tests.identity.conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, EidWorld, Served
from tests.identity.conftest import staff  # noqa: F401  (a fixture, found by name)
from tests.issuer.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    api,
    app,
    client,
    config,
    initialised,
    session,
)
from tests.testkit import free_port, wait_for

TMN_CODE = "VEXETEST"
HASH_SECRET = "TESTSECRETTESTSECRETTESTSECRET12"
BANK = {"BANK_BIN": "970436", "BANK_ACCOUNT": "0011001234567",
        "BANK_ACCOUNT_NAME": "Trung tâm Quản lý và Điều hành Giao thông",
        "BANK_WEBHOOK_SECRET": "test-webhook-secret-0123456789"}
AN = "vn-7f3a9c21"  # a level-2 test citizen of the development e-ID
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Shop:
    """The issuer, the e-ID and the gateway on their ports, and what a test does with them."""

    def __init__(self, issuer: Served, provider: Served, gateway: Served, database_url: str):
        self.issuer, self.provider, self.gateway = issuer, provider, gateway
        self.eid = EidWorld(issuer, provider)
        self.engine = sa.create_engine(database_url)
        self.database_url = database_url

    def rider(self, sub: str = AN) -> requests.Session:
        browser = requests.Session()
        assert self.eid.sign_in(browser, sub).status_code == 302
        return browser

    def clerk(self, username: str = "thu-ngan") -> requests.Session:
        """A clerk signed in to the console in a browser of her own."""
        with db.session(self.database_url) as session:
            operators.create(session, username, ("clerk",), now=clock.now(),
                             password=PASSWORD)
            session.commit()
        browser = requests.Session()
        page = browser.get(f"{self.issuer.url}/console/login", timeout=10)
        signed = browser.post(f"{self.issuer.url}/console/login", allow_redirects=False,
                              timeout=10, data={"username": username, "password": PASSWORD,
                                                "csrf_token": CSRF.search(page.text).group(1)})
        assert signed.status_code == 302, signed.text
        return browser

    def console_post(self, browser: requests.Session, path: str, **data) -> requests.Response:
        page = browser.get(f"{self.issuer.url}/console/payments/", timeout=10)
        return browser.post(f"{self.issuer.url}{path}", allow_redirects=True, timeout=30,
                            data={"csrf_token": CSRF.search(page.text).group(1), **data})

    def order(self, browser: requests.Session) -> str:
        page = browser.get(f"{self.issuer.url}/my/buy", timeout=10)
        month = orders.months_on_sale(clock.now(), 28)[0]
        made = browser.post(f"{self.issuer.url}/my/buy", allow_redirects=False, timeout=10,
                            data={"csrf_token": CSRF.search(page.text).group(1),
                                  "product": "multi", "month": month})
        assert made.status_code == 303, made.text
        return made.headers["Location"].rstrip("/").rsplit("/", 1)[1]

    def press_pay(self, browser: requests.Session, order_id: str) -> requests.Response:
        page = browser.get(f"{self.issuer.url}/my/orders/{order_id}", timeout=10)
        assert page.status_code == 200, page.text
        return browser.post(f"{self.issuer.url}/my/orders/{order_id}/pay/card",
                            data={"csrf_token": CSRF.search(page.text).group(1)},
                            allow_redirects=False, timeout=10)

    def to_gateway(self, browser: requests.Session, order_id: str) -> str:
        pressed = self.press_pay(browser, order_id)
        assert pressed.status_code == 303, pressed.text
        assert pressed.headers["Location"].startswith(self.gateway.url)
        return pressed.headers["Location"]

    def choose(self, browser: requests.Session, pay_url: str, action: str,
               ipn: str = "now") -> requests.Response:
        """At the gateway's page: pay, decline, cancel or abandon; the gateway's answer
        (a redirect back to the issuer, except for abandon)."""
        page = browser.get(pay_url, timeout=10)
        assert page.status_code == 200, page.text
        form = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        return browser.post(self.gateway.url + form, allow_redirects=False, timeout=10,
                            data={"csrf_token": CSRF.search(page.text).group(1),
                                  "action": action, "ipn": ipn})

    def back(self, browser: requests.Session, answer: requests.Response) -> requests.Response:
        """The browser follows the gateway's redirect back to the issuer."""
        assert answer.status_code == 302, answer.text
        return browser.get(answer.headers["Location"], allow_redirects=False, timeout=30)

    def pay(self, browser: requests.Session, order_id: str, ipn: str = "now"):
        return self.choose(browser, self.to_gateway(browser, order_id), "pay", ipn)

    def deliveries(self, txn_ref: str | None = None) -> list[str]:
        """The issuer's answers to the gateway's IPN calls, in order."""
        listed = requests.get(f"{self.gateway.url}/dev/transactions.json", timeout=10).json()
        return [d["answer"] for t in listed["transactions"]
                if txn_ref is None or t["txn_ref"] == txn_ref for d in t["deliveries"]]

    # -- what the database holds --------------------------------------------------------

    def order_row(self, order_id: str):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(Order).where(Order.id == order_id)).one()

    def payments(self, order_id: str | None = None) -> list:
        with self.engine.connect() as conn:
            query = sa.select(Payment).order_by(Payment.id)
            if order_id is not None:
                query = query.where(Payment.order_id == order_id)
            return list(conn.execute(query))

    def notifications(self) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(PaymentNotification)
                                     .order_by(PaymentNotification.id)))

    def wait_paid(self, order_id: str):
        return wait_for(lambda: self.order_row(order_id).status == "paid" and
                        self.order_row(order_id), what=f"order {order_id} paid")

    def close(self) -> None:
        self.engine.dispose()


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@contextlib.contextmanager
def served_shop(settings: dict, database_url: str, issuer_port: int | None = None,
                **gateway_config):
    issuer_port = issuer_port or free_port()
    provider_port, gateway_port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    provider = Served(idp.create_app({
        "ISSUER": provider_url,
        "CLIENTS": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                     "redirect_uris": [f"http://127.0.0.1:{issuer_port}/signin/callback"]}]}),
        provider_port)
    gateway = Served(dev_gateway.create_app({
        "IPN_DELAY": 1.5, "IPN_RETRIES": 8, "IPN_RETRY_DELAY": 0.5, **gateway_config,
        "TERMINALS": [{"tmn_code": TMN_CODE, "hash_secret": HASH_SECRET,
                       "ipn_url": f"http://127.0.0.1:{issuer_port}/api/payments/vnpay/ipn"}]}),
        gateway_port)
    issuer = Served(create_app({
        **settings, "OIDC_ISSUER": provider_url, "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET, "GATEWAY_URL": gateway.url,
        "GATEWAY_TMN_CODE": TMN_CODE, "GATEWAY_HASH_SECRET": HASH_SECRET, **BANK,
        "SELLER_TAX_CODE": "0100100000", "SELLER_ADDRESS": "Hà Nội", "VAT_PERCENT": 8}),
        issuer_port)
    shop = Shop(issuer, provider, gateway, database_url)
    try:
        yield shop
    finally:
        shop.close()
        issuer.stop()
        gateway.stop()
        provider.stop()


@pytest.fixture
def shop(initialised):
    with served_shop(initialised, initialised["DATABASE_URL"]) as world:
        yield world


class Relay:
    """A TCP relay to a database server that a test can cut (every connection dropped, new
    ones refused) and restore: the database gone from the issuer's point of view, as when
    its host or the network between them fails."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.live: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.live:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.live.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()
