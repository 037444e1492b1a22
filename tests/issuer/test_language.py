"""One language at a time: Vietnamese by default, the browser's language on a first visit, a
switch on every page that is remembered and never leads off the site; the API's errors say
the same thing to people in their language and keep a stable English ``error``."""

from __future__ import annotations

import pytest


def test_vietnamese_by_default_and_the_page_says_so(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert 'href="/lang/en?next=/"' in page.text


def test_a_first_visit_follows_the_browser(client):
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text
    assert 'href="/lang/vi?next=/"' in page.text


def test_the_switch_is_remembered_and_returns_to_the_page(client):
    switched = client.get("/lang/en?next=/my/", headers={"Accept-Language": "vi"})
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/my/"
    cookie = switched.headers["Set-Cookie"]
    assert "vexe_lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # The cookie outranks the browser's language from then on.
    page = client.get("/", headers={"Accept-Language": "vi"})
    assert '<html lang="en">' in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "my/"])
def test_the_switch_never_leads_off_the_site(client, target):
    switched = client.get("/lang/vi", query_string={"next": target})
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/"


def test_an_unknown_language_is_not_found_and_sets_nothing(client):
    answer = client.get("/lang/fr?next=/")
    assert answer.status_code == 404
    assert "Set-Cookie" not in answer.headers


def test_an_error_keeps_its_english_code_and_speaks_the_language_of_the_caller(client):
    vi = client.get("/api/does-not-exist", headers={"Accept-Language": "vi"})
    en = client.get("/api/does-not-exist", headers={"Accept-Language": "en"})
    assert vi.status_code == en.status_code == 404
    assert vi.json["error"] == en.json["error"]
    assert en.json["message"] == en.json["error"]
    assert vi.json["message"] != vi.json["error"]


def test_an_error_page_is_in_one_language(client):
    page = client.get("/my/nothing-here", headers={"Accept-Language": "vi"})
    assert page.status_code == 404
    assert "Không tìm thấy" in page.text and "Not found" not in page.text


def test_too_many_refreshes_are_refused_in_words_not_the_limiters_notation(api, device):
    from shared import keys

    token, p = api.rider_pass()
    api.ok("POST", f"/api/passes/{p['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    for _ in range(40):
        answer = api.client.post(f"/api/passes/{p['id']}/credential",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Accept-Language": "vi"})
        if answer.status_code == 429:
            break
    assert answer.status_code == 429
    assert "per" not in answer.json["error"]
    assert answer.json["message"] == "Quá nhiều yêu cầu: hãy đợi một chút rồi thử lại."
    assert int(answer.headers["Retry-After"]) >= 1
