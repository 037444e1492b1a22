"""Signing keys in the administrator's console: the list with each key's state; rotate and
retire, each after a page saying what it does to riders; refusals change nothing."""

from __future__ import annotations

import re

from tests.admin.conftest import audit_entries


def kids(admin) -> dict[str, str]:
    page = admin.get("/console/admin/keys/").text
    return dict(re.findall(r'data-kid="([^"]+)"><td><code>[^<]+</code></td><td>[^<]+</td>\s*'
                           r'<td class="state">([^<·]+)', page))


def test_list_rotate_then_retire_with_what_it_does_to_riders(admin, app):
    [(first, state)] = kids(admin).items()
    assert state.strip() == "signs now"
    asked = admin.get("/console/admin/keys/rotate")
    assert "Riders' cards pick up the new key on their next refresh" in asked.text
    assert kids(admin) == {first: state}  # the confirmation page changed nothing
    assert admin.post("/console/admin/keys/rotate").status_code == 303
    states = {k: v.strip() for k, v in kids(admin).items()}
    assert states[first] == "still accepted" and list(states.values()).count("signs now") == 1
    [entry] = audit_entries(app, "key.rotate")
    assert entry.actor == "quan-tri" and entry.target in states and entry.target != first

    confirm = admin.get(f"/console/admin/keys/{first}/retire")
    assert confirm.status_code == 200
    assert "Validators refuse QR codes signed by this key" in confirm.text
    assert "still valid until" in confirm.text  # what it signed has not expired yet
    assert admin.post(f"/console/admin/keys/{first}/retire").status_code == 303
    assert kids(admin)[first].strip() == "retired"
    [entry] = audit_entries(app, "key.retire")
    assert entry.target == first


def test_the_only_key_is_not_retired(admin, app):
    [only] = kids(admin)
    done = admin.post(f"/console/admin/keys/{only}/retire", follow_redirects=True)
    assert "the only active key" in done.text
    assert kids(admin)[only].strip() == "signs now"
    assert audit_entries(app, "key.retire") == []


def test_unknown_key_wrong_role_no_csrf(admin, clerk, app):
    assert admin.get("/console/admin/keys/nope/retire").status_code == 404
    assert clerk.get("/console/admin/keys/").status_code == 403
    assert clerk.post("/console/admin/keys/rotate").status_code == 403
    assert admin.post("/console/admin/keys/rotate", csrf=False).status_code == 400
    assert len(kids(admin)) == 1
    assert audit_entries(app, "key.rotate") == []


def test_vietnamese(admin):
    admin.client.set_cookie("vexe_lang", "vi")
    assert "Khóa ký" in admin.get("/console/admin/keys/").text
    assert "Thẻ của hành khách nhận khóa mới" in admin.get("/console/admin/keys/rotate").text
