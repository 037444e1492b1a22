"""One language at a time: the translation catalogues every face of vexe reads, and the way
Vietnamese and English write money, months, days and moments.

The source text is English (the msgid); Vietnamese is the default language. The catalogues
are gettext ``.po`` files in ``shared/locale/<language>/LC_MESSAGES/``, one file per area (the
rider's pages, the console, the card, the kiosk, the messages of the services) so that a
translator edits one at a time. They are read with Babel and compiled in memory when first
needed: there is no ``.mo`` to build or to forget to rebuild.

The issuer reads them through Flask-Babel (``issuer.web.language``); the validator and the
card's JavaScript (carried in its page) through :func:`translations`.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from shared import clock

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("vi", "en")
DEFAULT = "vi"
# The name of each language in itself, for the switch.
NAMES = {"vi": "Tiếng Việt", "en": "English"}

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is written; it is translated where shown."""
    return message


def files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


def read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


@functools.cache
def translations(language: str) -> Translations:
    """Every catalogue of ``language`` merged into one gettext translation (English: none, the
    msgids are English)."""
    merged = Catalog(locale=language if language in LANGUAGES else None)
    for path in files(language):
        for message in read(path):
            if message.id and message.string:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(language: str, message: str, **params) -> str:
    """``message`` in ``language``, its ``%(name)s`` placeholders filled from ``params``."""
    text = translations(language).gettext(message)
    return text % params if params else text


def best_match(accept_language: str | None) -> str:
    """The first of our languages the browser's Accept-Language header asks for, by weight;
    Vietnamese when it names none of them."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        ranked.append((-quality, position, tag.split("-")[0].strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def money(amount: int, language: str) -> str:
    """``100.000 ₫`` in Vietnamese, ``100,000 ₫`` in English."""
    grouped = f"{amount:,}"
    return (grouped.replace(",", ".") if language == "vi" else grouped) + " ₫"


def month(year_month: str, language: str) -> str:
    """``"2026-12"`` -> ``tháng 12/2026`` or ``December 2026``."""
    year, number = clock.parse_month(year_month)
    if language == "vi":
        return f"tháng {number}/{year}"
    return f"{MONTHS_EN[number - 1]} {year}"


def day(date: dt.date, language: str) -> str:
    """``02/12/2026`` or ``2 December 2026``."""
    if language == "vi":
        return date.strftime("%d/%m/%Y")
    return f"{date.day} {MONTHS_EN[date.month - 1]} {date.year}"


def moment(at: float | None, language: str) -> str:
    """A Unix time in Hanoi: ``20:25 ngày 02/12/2026`` or ``20:25, 2 December 2026``."""
    if at is None:
        return ""
    local = dt.datetime.fromtimestamp(at, tz=clock.HANOI)
    hour = local.strftime("%H:%M")
    if language == "vi":
        return f"{hour} ngày {day(local.date(), language)}"
    return f"{hour}, {day(local.date(), language)}"
