"""One reader for JSON request bodies, for the issuer's API and the validator's local doors.

A body is parsed, its text checked, then converted to a typed shape (a ``msgspec.Struct``):
the shape says the fields, their types and their bounds once, and the issuer's OpenAPI
document is made from the same shapes. Every way a body can be wrong ends in
:class:`BodyError` with a sentence for the caller, never another exception:

- not JSON at all, or nested so deep that the parser's recursion overflows (``[[[[...``,
  which is a ``RecursionError``, not a ``ValueError``);
- a lone surrogate (JSON can spell ``"\\ud800"``; no UTF-8 encodes it, and a database
  driver fails on it) or a NUL (PostgreSQL text holds none), in a value or a field name;
- not the shape: a field unknown (a misspelt "route_code" must not silently issue a pass
  without a route), missing, of the wrong type or out of its bounds.
"""

from __future__ import annotations

import json
from typing import TypeVar

import msgspec

T = TypeVar("T")


class BodyError(ValueError):
    """The body cannot be used; ``str()`` says why, for the caller."""


def read(raw: bytes, shape: type[T]) -> T:
    """``raw`` as a ``shape``; an empty body is an empty object (for shapes that need nothing)."""
    if not raw.strip():
        data: object = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise BodyError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BodyError("request body must be a JSON object")
    check_text(data, "field")
    try:
        return msgspec.convert(data, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise BodyError(_sentence(str(exc))) from None


def check_text(value: object, what: str) -> None:
    """Every string in a JSON value, names and values at any depth, is text a database can
    hold: UTF-8 without NUL."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_text(name, "a field name")
            check_text(item, f"field {name!r}")
    elif isinstance(value, list):
        for item in value:
            check_text(item, what)
    elif isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise BodyError(f"{what} is not text: {problem}")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not storable text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it holds a lone surrogate, which is not Unicode text"
    if "\x00" in value:
        return "it holds a NUL character"
    return None


def _sentence(message: str) -> str:
    """msgspec's message, in the API's words: ``Object contains unknown field `x` - at `$```
    becomes ``unknown field 'x'``; ``Expected `str`, got `int` - at `$.route``` names the
    field first."""
    text, _, where = message.partition(" - at `")
    where = where.rstrip("`")
    field = where.removeprefix("$.").removeprefix("$")
    text = text.replace("`", "'")
    if text.startswith("Object contains unknown field"):
        return "unknown " + text.removeprefix("Object contains unknown ")
    if text.startswith("Object missing required field"):
        name = text.removeprefix("Object missing required field ").strip("'")
        return f"field {'.'.join(filter(None, (field, name)))!r} is required"
    text = text[0].lower() + text[1:] if text else text
    return f"field {field!r}: {text}" if field else text
