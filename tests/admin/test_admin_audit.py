"""The audit log in the administrator's console: filters, pages, the CSV download (a cell
that would start a formula is text)."""

from __future__ import annotations

import csv
import io

from issuer.platform import audit, db
from shared import clock


def log(app, count: int, actor: str = "ai-do", action: str = "test.thing", at=None,
        target: str = "T1", reason: str | None = None) -> None:
    with db.session(app.config["DATABASE_URL"]) as s:
        for _ in range(count):
            audit.event(s, actor, action, now=at or clock.now(), target=target, reason=reason)


def ids_on(page) -> list[int]:
    import re
    return [int(i) for i in re.findall(r'class="entry" data-id="(\d+)"', page.text)]


def test_filter_by_actor_action_target(admin, app):
    log(app, 3, actor="alice")
    log(app, 2, actor="bob", action="other.thing", target="T2")
    page = admin.get("/console/admin/audit/", query_string={"actor": "alice"})
    assert page.status_code == 200 and len(ids_on(page)) == 3
    assert 'value="alice"' in page.text
    assert len(ids_on(admin.get("/console/admin/audit/", query_string={"action": "other.thing"}))) == 2
    assert len(ids_on(admin.get("/console/admin/audit/", query_string={"target": "T2",
                                                                      "actor": "alice"}))) == 0


def test_days_in_hanoi_time(admin, app):
    day = 1_790_000_000  # 2026-09-21 in Hanoi
    log(app, 1, actor="old", at=day - 3 * 86400)
    log(app, 1, actor="old", at=day)
    page = admin.get("/console/admin/audit/", query_string={"actor": "old", "from": "2026-09-20",
                                                            "to": "2026-09-22"})
    assert len(ids_on(page)) == 1


def test_bad_filters_are_said_and_kept(admin):
    for args, said in (({"from": "21/09/2026"}, "a date looks like 2026-12-31"),
                       ({"from": "2026-09-22", "to": "2026-09-01"}, "the first day comes after"),
                       ({"actor": "x" * 201}, "at most 200 characters"),
                       ({"before": "abc"}, "must be an entry number")):
        page = admin.get("/console/admin/audit/", query_string=args)
        assert page.status_code == 400 and said in page.text, args
    assert 'value="21/09/2026"' in admin.get("/console/admin/audit/",
                                             query_string={"from": "21/09/2026"}).text


def test_pages_older_and_newer(admin, app):
    log(app, 120, actor="many")
    first = admin.get("/console/admin/audit/", query_string={"actor": "many"})
    one = ids_on(first)
    assert len(one) == 50 and one == sorted(one, reverse=True)
    assert 'id="newer"' not in first.text
    import html
    import re
    older = html.unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))
    second = admin.get(older)
    two = ids_on(second)
    assert len(two) == 50 and max(two) < min(one)
    newer = html.unescape(re.search(r'href="([^"]+)" rel="prev"', second.text).group(1))
    assert ids_on(admin.get(newer)) == one
    assert "actor=many" in newer


def test_csv_is_safe_against_formulas(admin, app):
    log(app, 1, actor="mallory", target="=HYPERLINK(\"http://x\")", reason="+1+cmd|' /C calc'!A0")
    response = admin.get("/console/admin/audit/audit.csv", query_string={"actor": "mallory"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["id", "at", "actor", "action", "target", "reason"]
    assert rows[1][4].startswith("'=") and rows[1][5].startswith("'+")
    assert len(rows) == 2


def test_wrong_role(clerk):
    assert clerk.get("/console/admin/audit/").status_code == 403
    assert clerk.get("/console/admin/audit/audit.csv").status_code == 403
