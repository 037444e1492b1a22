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
import re
from typing import TypeVar

import msgspec

T = TypeVar("T")


class BodyError(ValueError):
    """The body cannot be used; ``str()`` says why, for the caller."""


def read(raw: bytes, shape: type[T]) -> T:
    """``raw`` as a ``shape``; an empty body is an empty object (for shapes that need nothing).
    ``dict`` as the shape: any object, its fields checked by the caller."""
    if not raw.strip():
        data: object = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise BodyError("request body is not valid JSON (a JSON object is expected)") from None
    if not isinstance(data, dict):
        raise BodyError("request body must be a JSON object")
    check_text(data, "field")
    try:
        return msgspec.convert(data, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise BodyError(_sentence(str(exc), getattr(shape, "messages", {}))) from None


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


# msgspec's words for a type, in the words the API's messages use.
_TYPES = {"str": "a string", "int": "an integer", "bool": "true or false",
          "float": "a number", "object": "a JSON object", "array": "a JSON array"}
_BOUNDS = ((re.compile(r"^Expected `[^`]*` of length <= (\d+)$"), "must be at most {} characters"),
           (re.compile(r"^Expected `[^`]*` of length >= (\d+)$"), "must be at least {} characters"),
           (re.compile(r"^Expected `[^`]*` >= (-?\d+)$"), "must be at least {}"),
           (re.compile(r"^Expected `[^`]*` <= (-?\d+)$"), "must be at most {}"),
           (re.compile(r"^Expected `[^`]*` matching regex '(.*)'$"), "must match {}"),
           (re.compile(r"^Invalid enum value (.*)$"), "is not one of the values allowed ({})"))


def _sentence(message: str, messages: dict[str, str]) -> str:
    """msgspec's message in the API's words, naming the field: ``Expected `str`, got `int` -
    at `$.route``` becomes ``field 'route' must be a string``. A shape may say what a bad
    value of one of its fields means in its own words (its ``messages``)."""
    text, _, where = message.partition(" - at `")
    field = where.rstrip("`").removeprefix("$").removeprefix(".")
    name = f"field {field!r}" if field else "the body"
    wrong = re.match(r"^Expected `([^`]*)`, got `([^`]*)`$", text)
    wanted = [t.strip() for t in wrong[1].split("|") if t.strip() != "null"] if wrong else []
    own = messages.get(field.split(".", 1)[0]) if field else None
    # The shape's own words for a bad value, within the field too (a JWK missing its x is
    # still "not a P-256 key"); a plain wrong type says so in the plain words below.
    if own and not (len(wanted) == 1 and wanted[0] in _TYPES):
        return own
    missing = re.match(r"^Object missing required field `(.*)`$", text)
    if missing:
        return f"field {'.'.join(filter(None, (field, missing[1])))!r} is required"
    unknown = re.match(r"^Object contains unknown field `(.*)`$", text)
    if unknown:
        return f"unknown field {'.'.join(filter(None, (field, unknown[1])))!r}"
    if wrong:
        words = " or ".join(_TYPES.get(t, t) for t in wanted)
        return f"{name} must be {words}"
    if re.match(r"^Expected `[^`]*` of length >= 1$", text):
        return f"{name} must not be empty"
    for pattern, sentence in _BOUNDS:
        bound = pattern.match(text)
        if bound:
            return f"{name} {sentence.format(bound[1])}"
    return f"{name}: {text.replace('`', chr(39))}"
