"""Every string a person reads has its Vietnamese: the catalogues in shared/locale cover every
message marked in the code, the templates and the card's and kiosk's JavaScript (babel.cfg
says where), and a translation keeps its message's placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from shared import i18n

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")
# Words that are the same in both languages.
SAME = {"vexe", "OK", "e-ID", "VietQR", "QR", "Email", "CSV", "ID"}


def marked() -> dict[str, set[str]]:
    """msgid -> where it is written."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, set[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, set()).add(f"{filename}:{lineno}")
    return found


MARKED = marked()


def vietnamese() -> dict[str, str]:
    table = {}
    for path in i18n.files("vi"):
        for message in i18n.read(path):
            if message.id:
                msgid = message.id[0] if isinstance(message.id, tuple) else message.id
                string = message.string[0] if isinstance(message.string, tuple) else message.string
                table[msgid] = string
    return table


def test_the_sweep_reaches_the_pages_the_code_and_the_scripts():
    places = {where.split(":")[0] for spots in MARKED.values() for where in spots}
    assert any(p.endswith(".html") for p in places), "no template was read"
    assert any(p.endswith(".py") for p in places), "no Python module was read"


def test_every_marked_string_has_its_vietnamese():
    table = vietnamese()
    missing = {msgid: sorted(spots)[0] for msgid, spots in MARKED.items()
               if not table.get(msgid) or (table[msgid] == msgid and msgid not in SAME)}
    assert not missing, "no Vietnamese for:\n" + "\n".join(
        f"  {where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda i: i[1]))


def test_a_translation_keeps_the_placeholders_of_its_message():
    wrong = []
    for msgid, string in vietnamese().items():
        if string and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(string)):
            wrong.append(f"{msgid!r} -> {string!r}")
    assert not wrong, "\n".join(wrong)


def test_no_translation_is_left_fuzzy():
    """A fuzzy entry is skipped when the catalogues are compiled: the page would be English."""
    fuzzy = [f"{path.name}: {m.id!r}" for path in i18n.files("vi") for m in i18n.read(path)
             if m.id and m.fuzzy]
    assert not fuzzy, "\n".join(fuzzy)


def test_a_message_is_translated_once():
    seen: dict[str, Path] = {}
    twice = []
    for path in i18n.files("vi"):
        for message in i18n.read(path):
            if message.id and message.id in seen:
                twice.append(f"{message.id!r}: {seen[message.id].name} and {path.name}")
            seen.setdefault(message.id, path)
    assert not twice, "\n".join(twice)


@pytest.mark.parametrize("language, amount, text", [("vi", 100000, "100.000 ₫"),
                                                     ("en", 100000, "100,000 ₫")])
def test_money_is_written_the_way_of_the_language(language, amount, text):
    assert i18n.money(amount, language) == text


def test_months_days_and_moments_the_vietnamese_way():
    assert i18n.month("2026-12", "vi") == "tháng 12/2026"
    assert i18n.month("2026-12", "en") == "December 2026"
    at = 1764681900  # 2025-12-02 13:25 UTC, 20:25 in Hanoi
    assert i18n.moment(at, "vi") == "20:25 ngày 02/12/2025"
    assert i18n.moment(at, "en") == "20:25, 2 December 2025"


@pytest.mark.parametrize("header, chosen", [
    (None, "vi"), ("", "vi"), ("fr-FR,fr;q=0.9", "vi"), ("en-US,en;q=0.9", "en"),
    ("fr;q=1, en;q=0.5, vi;q=0.8", "vi"), ("vi-VN", "vi"), ("en;q=abc, en-GB;q=0.2", "en")])
def test_the_first_visit_follows_the_browser(header, chosen):
    assert i18n.best_match(header) == chosen
