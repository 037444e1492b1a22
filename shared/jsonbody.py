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

from shared.i18n import N_

T = TypeVar("T")


class Said(str):
    """A sentence for the caller: ``str()`` is the English; its ``template`` (marked with
    ``N_``) and ``params`` let the issuer say it in the caller's language (a value may be a
    ``Said`` too, said the same way)."""

    def __new__(cls, template: str, **params):
        said = super().__new__(cls, template % params if params else template)
        said.template, said.params = template, params
        return said

    def said(self, gettext) -> str:
        text = gettext(self.template)
        if not self.params:
            return text
        return text % {name: value.said(gettext) if hasattr(value, "said") else value
                       for name, value in self.params.items()}


class BodyError(ValueError):
    """The body cannot be used; ``str()`` says why, for the caller, in English; ``template``
    and ``params`` are the same sentence for the catalogues."""

    def __init__(self, said: Said):
        self.template, self.params = said.template, said.params
        super().__init__(str(said))


def read(raw: bytes, shape: type[T]) -> T:
    """``raw`` as a ``shape``; an empty body is an empty object (for shapes that need nothing).
    ``dict`` as the shape: any object, its fields checked by the caller."""
    if not raw.strip():
        data: object = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise BodyError(Said(N_("request body is not valid JSON"))) from None
    if not isinstance(data, dict):
        raise BodyError(Said(N_("request body must be a JSON object")))
    check_text(data, Said(N_("a field")))
    try:
        return msgspec.convert(data, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise BodyError(_sentence(str(exc), getattr(shape, "messages", {}))) from None


def check_text(value: object, what: Said) -> None:
    """Every string in a JSON value, names and values at any depth, is text a database can
    hold: UTF-8 without NUL."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_text(name, Said(N_("a field name")))
            check_text(item, Said(N_("field %(field)s"), field=repr(name)))
    elif isinstance(value, list):
        for item in value:
            check_text(item, what)
    elif isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise BodyError(Said(N_("%(what)s is not text: %(problem)s"), what=what,
                                 problem=problem))


def text_problem(value: str) -> Said | None:
    """Why ``value`` is not storable text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Said(N_("it holds a lone surrogate, which is not Unicode text"))
    if "\x00" in value:
        return Said(N_("it holds a NUL character"))
    return None


# msgspec's words for a type, in the words the API's messages use.
_TYPES = {"str": N_("a string"), "int": N_("an integer"), "bool": N_("true or false"),
          "float": N_("a number"), "object": N_("a JSON object"), "array": N_("a JSON array")}
_BOUNDS = ((re.compile(r"^Expected `[^`]*` of length <= (\d+)$"),
            N_("%(name)s must be at most %(bound)s characters")),
           (re.compile(r"^Expected `[^`]*` of length >= (\d+)$"),
            N_("%(name)s must be at least %(bound)s characters")),
           (re.compile(r"^Expected `[^`]*` >= (-?\d+)$"), N_("%(name)s must be at least %(bound)s")),
           (re.compile(r"^Expected `[^`]*` <= (-?\d+)$"), N_("%(name)s must be at most %(bound)s")),
           (re.compile(r"^Expected `[^`]*` matching regex '(.*)'$"),
            N_("%(name)s must match %(bound)s")),
           (re.compile(r"^Invalid enum value (.*)$"),
            N_("%(name)s is not one of the values allowed (%(bound)s)")))


def _sentence(message: str, messages: dict[str, str]) -> Said:
    """msgspec's message in the API's words, naming the field: ``Expected `str`, got `int` -
    at `$.route``` becomes ``field 'route' must be a string``. A shape may say what a bad
    value of one of its fields means in its own words (its ``messages``)."""
    text, _, where = message.partition(" - at `")
    field = where.rstrip("`").removeprefix("$").removeprefix(".")
    name = Said(N_("field %(field)s"), field=repr(field)) if field else Said(N_("the body"))
    wrong = re.match(r"^Expected `([^`]*)`, got `([^`]*)`$", text)
    wanted = [t.strip() for t in wrong[1].split("|") if t.strip() != "null"] if wrong else []
    own = messages.get(field.split(".", 1)[0]) if field else None
    # The shape's own words for a bad value, within the field too (a JWK missing its x is
    # still "not a P-256 key"); a plain wrong type says so in the plain words below.
    if own and not (len(wanted) == 1 and wanted[0] in _TYPES):
        return Said(own)
    missing = re.match(r"^Object missing required field `(.*)`$", text)
    if missing:
        return Said(N_("field %(field)s is required"),
                    field=repr(".".join(filter(None, (field, missing[1])))))
    unknown = re.match(r"^Object contains unknown field `(.*)`$", text)
    if unknown:
        return Said(N_("unknown field %(field)s"),
                    field=repr(".".join(filter(None, (field, unknown[1])))))
    if wrong:
        said = [Said(_TYPES[t]) if t in _TYPES else t for t in wanted]
        words = said[0] if said else ""
        for other in said[1:]:
            words = Said(N_("%(one)s or %(other)s"), one=words, other=other)
        return Said(N_("%(name)s must be %(words)s"), name=name, words=words)
    if re.match(r"^Expected `[^`]*` of length >= 1$", text):
        return Said(N_("%(name)s must not be empty"), name=name)
    for pattern, sentence in _BOUNDS:
        bound = pattern.match(text)
        if bound:
            return Said(sentence, name=name, bound=bound[1])
    return Said(N_("%(name)s: %(problem)s"), name=name, problem=text.replace("`", "'"))
