"""The rider's pages through the real door (the issuer and the e-ID on their ports, a
browser's HTTP): one language at a time, forms that forgive (a second press of "Đặt mua"
makes no second order, a refusal keeps what was chosen, a multi-route pass ignores the
route), the rider's history at /my/trips, and help requests answered in the console."""

from __future__ import annotations

import re
import threading

import pytest
import requests
import sqlalchemy as sa

from backoffice.models import Trip
from issuer import create_app
from issuer.platform import db, settings
from issuer.platform.models import AuditEntry, HelpRequest, Order
from issuer.sales import orders
from shared import clock
from tests.identity.conftest import PASSWORD, csrf_from

AN = "vn-7f3a9c21"  # level 2
CUONG = "vn-c41d7e88"  # level 2, another rider
EN = {"vexe_lang": "en"}
ENGLISH = {"/my/": "My passes", "/my/buy": "Buy a monthly pass", "/my/free": "Apply with evidence",
           "/my/trips": "My trips"}
VIETNAMESE = {"/my/": "Vé của tôi", "/my/buy": "Mua vé tháng", "/my/free": "Nộp đơn kèm giấy tờ",
              "/my/trips": "Chuyến đi của tôi"}


def rider(world, sub: str = AN) -> requests.Session:
    browser = world.browser()
    assert world.sign_in(browser, sub).status_code == 302
    return browser


def account_of(world, browser) -> str:
    return browser.get(f"{world.issuer.url}/api/me", timeout=10).json()["id"]


def url(world, path: str) -> str:
    return world.issuer.url + path


def buy(world, browser, **fields) -> requests.Response:
    token = csrf_from(browser.get(url(world, "/my/buy"), timeout=10).text)
    return browser.post(url(world, "/my/buy"), data={"csrf_token": token, **fields},
                        allow_redirects=False, timeout=30)


def month() -> str:
    return orders.months_on_sale(clock.now(), 28)[0]


def orders_of(world, account_id: str) -> list[Order]:
    with db.session(world.issuer.app.config["DATABASE_URL"]) as s:
        return list(s.scalars(sa.select(Order).where(Order.account_id == account_id)))


def issue_pass(world, account_id: str) -> str:
    token = world.issuer.app.config["OPERATOR_TOKEN"]
    made = requests.post(url(world, "/api/passes"), timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"account_id": account_id, "product": "multi"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def add_trips(world, pass_id: str, scans: list[tuple[int, str, str, str]]) -> list[str]:
    """Trips as the ingest stores them: (seconds ago, mode, decision, reason)."""
    now_ms = int(clock.now() * 1000)
    ids = []
    with db.session(world.issuer.app.config["DATABASE_URL"]) as s:
        for ago, mode, decision, reason in scans:
            at = now_ms - ago * 1000
            ids.append(f"{at}-{pass_id}-{mode}")
            s.add(Trip(id=ids[-1], validator="v-29B12345", vehicle="29B-123.45", route="32",
                       stop=None, at_ms=at, decision=decision, reason=reason, pass_id=pass_id,
                       product="multi", category=None, proof_at=None, mode=mode, company=None,
                       stop_by=None, stream_ms=at, ingested_ms=at))
        s.commit()
    return ids


def help_rows(world) -> list[HelpRequest]:
    with db.session(world.issuer.app.config["DATABASE_URL"]) as s:
        return list(s.scalars(sa.select(HelpRequest)))


def audit_rows(world, action: str) -> list[AuditEntry]:
    with db.session(world.issuer.app.config["DATABASE_URL"]) as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


class TestOneLanguage:
    def test_every_rider_page_speaks_vietnamese_alone_by_default(self, eid_world):
        browser = rider(eid_world)
        for path, words in VIETNAMESE.items():
            page = browser.get(url(eid_world, path), timeout=10)
            assert page.status_code == 200, path
            assert words in page.text, path
            assert ENGLISH[path] not in page.text, path
            assert 'class="en"' not in page.text, path
            assert "Sign out" not in page.text and "Đăng xuất" in page.text

    def test_and_english_alone_when_chosen(self, eid_world):
        browser = rider(eid_world)
        browser.cookies.update(EN)
        for path, words in ENGLISH.items():
            page = browser.get(url(eid_world, path), timeout=10)
            assert words in page.text, path
            assert VIETNAMESE[path] not in page.text, path
            assert "Đăng xuất" not in page.text and "Sign out" in page.text

    def test_codes_are_said_as_words(self, eid_world):
        browser = rider(eid_world)
        made = buy(eid_world, browser, product="multi", month=month())
        order_id = made.headers["Location"].rsplit("/", 1)[1]
        page = browser.get(url(eid_world, "/my/"), timeout=10).text
        assert "chờ thanh toán" in page and ">pending<" not in page
        assert "Vé tháng liên tuyến" in page or "liên tuyến" in page.lower()
        browser.cookies.update(EN)
        order = browser.get(url(eid_world, f"/my/orders/{order_id}"), timeout=10).text
        assert 'data-status="pending">waiting for payment<' in order
        assert f"Bring order number {order_id} to a sales counter" in order
        assert "Mang mã đơn" not in order


class TestBuyForgives:
    def test_a_second_press_lands_on_the_order_the_first_made(self, eid_world):
        browser = rider(eid_world)
        first = buy(eid_world, browser, product="multi", month=month())
        second = buy(eid_world, browser, product="multi", month=month())
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == second.headers["Location"]
        assert len(orders_of(eid_world, account_of(eid_world, browser))) == 1
        landed = browser.get(url(eid_world, second.headers["Location"]), timeout=10)
        assert "đang chờ thanh toán" in landed.text  # the flash: it is waiting, no error
        assert 'class="flash error"' not in landed.text

    def test_two_presses_at_once_make_one_order(self, eid_world):
        browser = rider(eid_world)
        token = csrf_from(browser.get(url(eid_world, "/my/buy"), timeout=10).text)
        data = {"csrf_token": token, "product": "multi", "month": month()}
        answers = []
        start = threading.Barrier(3)

        def press():
            start.wait()
            answers.append(browser.post(url(eid_world, "/my/buy"), data=data,
                                        allow_redirects=False, timeout=30))

        presses = [threading.Thread(target=press) for _ in range(3)]
        for t in presses:
            t.start()
        for t in presses:
            t.join(60)
        assert [a.status_code for a in answers] == [303, 303, 303], [a.text for a in answers]
        assert len({a.headers["Location"] for a in answers}) == 1
        assert len(orders_of(eid_world, account_of(eid_world, browser))) == 1

    def test_a_refusal_keeps_what_was_chosen(self, eid_world):
        browser = rider(eid_world)
        chosen = month()
        refused = buy(eid_world, browser, product="single", route="", month=chosen)
        assert refused.status_code == 400
        assert 'class="flash error"' in refused.text
        assert re.search(r'<option value="single"[^>]*selected', refused.text)
        assert re.search(rf'<option value="{chosen}"[^>]*selected', refused.text)
        assert orders_of(eid_world, account_of(eid_world, browser)) == []

    def test_a_route_sent_with_a_multi_route_pass_is_ignored(self, eid_world):
        browser = rider(eid_world)
        made = buy(eid_world, browser, product="multi", route="32", month=month())
        assert made.status_code == 303, made.text
        [order] = orders_of(eid_world, account_of(eid_world, browser))
        assert order.product == "multi" and order.route_code is None

    def test_the_route_field_hides_for_a_multi_route_pass(self, eid_world):
        page = rider(eid_world).get(url(eid_world, "/my/buy"), timeout=10).text
        assert 'class="route-field"' in page
        assert '<option value="multi" data-routes="no"' in page
        assert '<option value="single" data-routes="yes"' in page


class TestHistory:
    def test_trips_newest_first_with_refusals_in_words(self, eid_world):
        browser = rider(eid_world)
        pass_id = issue_pass(eid_world, account_of(eid_world, browser))
        board, refused, alight = add_trips(eid_world, pass_id, [
            (3600, "board", "accept", "ok"), (600, "board", "refuse", "wrong_route"),
            (1800, "alight", "accept", "ok")])
        page = browser.get(url(eid_world, "/my/trips"), timeout=10).text
        shown = re.findall(r'data-trip="([^"]+)"', page)
        assert shown == [refused, alight, board]
        assert "vé không dùng cho tuyến đó" in page and "wrong_route<" not in page
        browser.cookies.update(EN)
        page = browser.get(url(eid_world, "/my/trips"), timeout=10).text
        assert "the pass is not for that route" in page and "got off" in page

    def test_the_trips_page_has_orders_and_payments_and_a_link(self, eid_world):
        browser = rider(eid_world)
        made = buy(eid_world, browser, product="multi", month=month())
        order_id = made.headers["Location"].rsplit("/", 1)[1]
        page = browser.get(url(eid_world, "/my/trips"), timeout=10).text
        assert f'data-order="{order_id}"' in page
        assert 'href="/my/trips" id="trips-link"' in browser.get(url(eid_world, "/my/"),
                                                                 timeout=10).text

    def test_another_riders_trips_are_not_shown(self, eid_world):
        other = rider(eid_world, CUONG)
        add_trips(eid_world, issue_pass(eid_world, account_of(eid_world, other)),
                  [(60, "board", "accept", "ok")])
        page = rider(eid_world).get(url(eid_world, "/my/trips"), timeout=10).text
        assert "data-trip=" not in page


class TestHelp:
    def ask(self, world, browser, csrf: bool = True, **fields) -> requests.Response:
        token = csrf_from(browser.get(url(world, "/my/trips"), timeout=10).text)
        data = {**({"csrf_token": token} if csrf else {}), **fields}
        return browser.post(url(world, "/my/help"), data=data, allow_redirects=False,
                            timeout=10)

    def test_a_problem_with_a_trip_reaches_a_clerk_whose_reply_the_rider_reads(
            self, eid_world, staff):
        browser = rider(eid_world)
        pass_id = issue_pass(eid_world, account_of(eid_world, browser))
        [trip] = add_trips(eid_world, pass_id, [(600, "board", "refuse", "wrong_route")])
        link = browser.get(url(eid_world, f"/my/trips?trip={trip}"), timeout=10).text
        assert re.search(rf'<option value="{re.escape(trip)}"[^>]*selected', link)
        sent = self.ask(eid_world, browser, trip=trip, message="Vé tháng liên tuyến bị từ chối")
        assert sent.status_code == 303, sent.text
        [row] = help_rows(eid_world)
        assert (row.trip_id, row.pass_id, row.status) == (trip, pass_id, "open")
        [entry] = audit_rows(eid_world, "help.ask")
        assert entry.actor == f"rider:{row.account_id}" and entry.target == f"help:{row.id}"

        clerk = requests.Session()
        staff.create("thu-ngan", "clerk")
        login = clerk.get(url(eid_world, "/console/login"), timeout=10)
        clerk.post(url(eid_world, "/console/login"), timeout=10, data={
            "username": "thu-ngan", "password": PASSWORD, "csrf_token": csrf_from(login.text)})
        queue = clerk.get(url(eid_world, "/console/help/"), timeout=10)
        assert queue.status_code == 200 and "Vé tháng liên tuyến bị từ chối" in queue.text
        assert trip in queue.text
        token = csrf_from(queue.text)
        empty = clerk.post(url(eid_world, f"/console/help/{row.id}"), timeout=10,
                           data={"csrf_token": token, "reply": "  "})
        assert 'class="flash error"' in empty.text and help_rows(eid_world)[0].status == "open"
        answered = clerk.post(url(eid_world, f"/console/help/{row.id}"), timeout=10,
                              data={"csrf_token": token, "reply": "Đã kiểm tra, xin lỗi bạn."})
        assert answered.status_code == 200 and f'id="help-{row.id}"' not in answered.text
        again = clerk.post(url(eid_world, f"/console/help/{row.id}"), timeout=10,
                           data={"csrf_token": token, "reply": "Lần nữa"})
        assert "đã được trả lời" in again.text
        [row] = help_rows(eid_world)
        assert (row.status, row.reply, row.answered_by) == (
            "answered", "Đã kiểm tra, xin lỗi bạn.", "thu-ngan")
        assert len(audit_rows(eid_world, "help.answer")) == 1
        page = browser.get(url(eid_world, "/my/trips"), timeout=10).text
        assert "Đã kiểm tra, xin lỗi bạn." in page and "đã trả lời" in page

    def test_a_question_about_no_trip(self, eid_world):
        browser = rider(eid_world)
        assert self.ask(eid_world, browser, trip="", message="Làm sao để gia hạn?"
                        ).status_code == 303
        [row] = help_rows(eid_world)
        assert row.trip_id is None and row.pass_id is None

    @pytest.mark.parametrize("message, status, words", [
        ("", 400, "Hãy viết điều đã xảy ra"),
        ("   \n ", 400, "Hãy viết điều đã xảy ra"),
        ("x" * 1001, 400, "tối đa 1000 ký tự"),
    ])
    def test_bad_messages_are_refused_and_kept(self, eid_world, message, status, words):
        browser = rider(eid_world)
        refused = self.ask(eid_world, browser, trip="", message=message)
        assert refused.status_code == status and words in refused.text
        if message.strip():
            assert message in refused.text  # what was typed is still there
        assert help_rows(eid_world) == [] and audit_rows(eid_world, "help.ask") == []

    def test_another_riders_trip_is_refused(self, eid_world):
        other = rider(eid_world, CUONG)
        [theirs] = add_trips(eid_world, issue_pass(eid_world, account_of(eid_world, other)),
                             [(60, "board", "accept", "ok")])
        browser = rider(eid_world)
        for trip in (theirs, "no-such-trip", "x" * 40):
            refused = self.ask(eid_world, browser, trip=trip, message="Chuyến này của tôi")
            assert refused.status_code == 404
            assert "Không có chuyến đi nào của bạn mang số này." in refused.text
            assert theirs not in refused.text or trip == theirs
        assert help_rows(eid_world) == []

    def test_without_csrf_nothing_is_stored(self, eid_world):
        browser = rider(eid_world)
        refused = self.ask(eid_world, browser, csrf=False, trip="", message="Xin chào")
        assert refused.status_code == 400
        assert help_rows(eid_world) == []

    def test_a_stranger_cannot_ask(self, eid_world):
        stranger = eid_world.browser()
        answer = stranger.post(url(eid_world, "/my/help"), data={"message": "x"},
                               allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 400)
        assert help_rows(eid_world) == []

    def test_only_a_clerk_sees_the_queue(self, eid_world, staff):
        approver = staff.browser("duyet", "approver")
        assert approver.get("/console/help/").status_code == 403
        assert rider(eid_world).get(url(eid_world, "/console/help/"), timeout=10,
                                    allow_redirects=False).status_code in (302, 403)


class TestHotline:
    def test_the_setting_is_read_from_the_environment_empty_by_default(self):
        assert settings.load({}, environ={})["HOTLINE"] == ""
        assert settings.load({}, environ={"VEXE_HOTLINE": "1900 1234"})["HOTLINE"] == "1900 1234"

    def test_the_start_page_gives_the_number_only_when_set(self, initialised):
        plain = create_app(initialised).test_client().get("/").text
        assert "tel:" not in plain
        page = create_app({**initialised, "HOTLINE": "1900 1234"}).test_client().get("/").text
        assert 'href="tel:19001234"' in page and "1900 1234" in page
