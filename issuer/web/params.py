"""Reading the console's query parameters: a period, a date, a route; 400 when malformed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence

import flask

from issuer.platform.errors import Invalid, NotFound
from shared.i18n import N_
from backoffice import buckets, reports
from shared import clock


# Dates the console answers for: the reports reach a week before and a day after a date,
# which at the calendar's ends (year 1, year 9999) is no date at all.
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def date_arg(name: str, default: dt.date) -> dt.date:
    text = flask.request.args.get(name)
    if not text:
        return default
    try:
        day = buckets.parse_date(text)
    except ValueError:
        raise Invalid(N_("%(name)s: a date must look like YYYY-MM-DD, got %(got)s"), name=name,
                      got=repr(text)) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise Invalid(N_("%(name)s: a date from %(first)s to %(last)s, got %(got)s"), name=name,
                      first=str(FIRST_DATE), last=str(LAST_DATE), got=repr(text))
    return day


def today() -> dt.date:
    return buckets.today(clock.now())


def period_arg() -> reports.Period:
    """``from`` and ``to`` (YYYY-MM-DD, inclusive); both default to today in Hanoi."""
    end = date_arg("to", today())
    start = date_arg("from", end)
    return reports.period(start, end)


# Alert ids are a 32-bit column: a larger number names no alert (and overflows the query).
MAX_ALERT_ID = 2**31 - 1


def alert_id(value: int) -> int:
    if value > MAX_ALERT_ID:
        raise NotFound(N_("no alert %(id)s"), id=value)
    return value


def limit_arg(default: int | None = None, most: int = 1000) -> int | None:
    text = flask.request.args.get("limit")
    if not text:
        return default
    value = _whole(text)
    if value is None or not 1 <= value <= most:
        raise Invalid(N_("limit must be a whole number from 1 to %(most)s"), most=most)
    return value


# Past the last row is an empty page, not an error; this bounds only what is worth parsing.
MOST_OFFSET = 1_000_000


def offset_arg() -> int:
    """``offset``: rows of the table to skip (with ``limit``, a page of it); default 0."""
    text = flask.request.args.get("offset")
    if not text:
        return 0
    value = _whole(text)
    if value is None or value > MOST_OFFSET:
        raise Invalid(N_("offset must be a whole number from 0 to %(most)s"), most=MOST_OFFSET)
    return value


def _whole(text: str) -> int | None:
    # ASCII digits only, and few: str.isdigit() also takes "²", which int() refuses, and
    # int() refuses strings of over 4,300 digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    return int(text)


def text_arg(name: str, required: bool = False, most: int = 32) -> str | None:
    raw = flask.request.args.get(name, "")
    if len(raw) > most:  # before stripping: the bound the OpenAPI document states
        raise Invalid(N_("%(name)s is at most %(most)s characters"), name=name, most=most)
    value = raw.strip()
    if not value:
        if required:
            raise Invalid(N_("the parameter %(name)s is required"), name=repr(name))
        return None
    return value


def wants_csv() -> bool:
    fmt = flask.request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid(N_("format must be json or csv"))
    return fmt == "csv"


# What a spreadsheet program takes for a formula at the start of a cell. Vehicle plates,
# stops and a validator's software come from the buses: a cell such as "=HYPERLINK(...)"
# must reach the operator's spreadsheet as text, so it gets a leading apostrophe. Programs
# also skip spaces before it (a no-break or an ideographic space too) and read the
# full-width forms ("＝", "＋") as the ASCII ones: NFKC gives those.
FORMULA_START = frozenset("=+-@")
LINE_BREAKS = frozenset("\t\r\n")


def _formula(text: str) -> bool:
    """Whether a spreadsheet program may run ``text``."""
    first = text[:1]
    if first.isalnum() or not first:  # almost every cell: a name, a plate, a number
        return False
    if first in LINE_BREAKS:
        return True
    return unicodedata.normalize("NFKC", text.lstrip()[:1]) in FORMULA_START


def _guarded(rows: list[list]):
    """The rows, each cell as a spreadsheet should read it: a list (a validator's flags, its
    key ids) is one cell, its items separated by spaces; a text that starts a formula gets an
    apostrophe. Column by column: a column's types are seen in C, and only a column holding
    lists or text is gone over in Python (an export of the fleet is 170,000 cells, two
    thirds of them numbers)."""
    columns = []
    for column in zip(*rows):
        kinds = set(map(type, column))
        if list in kinds:
            column = [" ".join(map(str, v)) if v.__class__ is list else v for v in column]
            kinds.add(str)
        if str in kinds:
            column = ["'" + v if v.__class__ is str and _formula(v) else v for v in column]
        columns.append(column)
    return zip(*columns)


guarded = _guarded  # for a CSV written outside a request (a command's --csv)


# The characters of a download's file name; any other (a quote, a semicolon, a slash, a
# line break in a route a caller gave) becomes "_": the name is in a header.
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def csv_response(rows: list[dict] | list[list], filename: str,
                 columns: Sequence[str] | None = None):
    """Rows as dicts (the columns: the first row's keys unless given), or as lists of
    values in the order of ``columns``. ``filename`` without ".csv"; made safe here."""
    if rows and not isinstance(rows[0], list):
        columns = columns or list(rows[0])
        rows = [list(map(row.get, columns)) for row in rows]
    out = io.StringIO()
    # RFC 4180 line ends: a cell holding a lone "\r" is quoted too, not a row broken in two.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns or [])
    writer.writerows(_guarded(rows))
    # A BOM so that spreadsheet programs read Vietnamese as UTF-8.
    response = flask.make_response("\ufeff" + out.getvalue())
    response.content_type = "text/csv; charset=utf-8"
    safe = UNSAFE_IN_FILENAME.sub("_", filename)[:120]
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    return response
