"""Errors the issuer's services raise. Each carries the HTTP status the API answers with;
the command line turns the input errors into exit code 2 and the rest into 1."""

from shared import i18n
from shared.i18n import N_


class IssuerError(Exception):
    """Something the caller asked for cannot be done; the message says why, for people.

    The message is English, marked for the catalogues with ``N_``, its values given apart:
    ``Invalid(N_("no route %(code)s"), code=code)``. ``str()`` is the English text (logs, the
    command line, the API's ``error``); :meth:`localized` is the same in the caller's language
    (the API's ``message``, the pages).
    """

    status = 400

    def __init__(self, message: str = "", **params):
        self.template = message
        self.params = params
        super().__init__(message % params if params else message)

    def localized(self, gettext) -> str:
        """The message through ``gettext`` (the request's language), its values filled in; a
        value that is a :class:`Word` is said in that language too."""
        return localize(self.template, self.params, gettext)


def localize(template: str, params: dict, gettext) -> str:
    """``template`` through ``gettext``, its ``%(name)s`` filled from ``params``; a value that
    knows how to be said (:class:`Word`, :class:`Money`, a message inside a message) is said
    in the same language."""
    text = gettext(template) if template else ""
    if not params:
        return text
    return text % {name: value.said(gettext) if hasattr(value, "said") else value
                   for name, value in params.items()}


def reader_language() -> str:
    """The language of the request being answered; English outside a request."""
    from flask_babel import get_locale  # only a request asks for a message in a language

    try:
        locale = get_locale()
    except RuntimeError:  # outside a request
        locale = None
    return locale.language if locale else "en"


class Word(str):
    """A code inside a message (a status, a product) that a person reads as a word.

    ``str()`` is the code itself, so the English ``error`` keeps it; in
    :meth:`IssuerError.localized` it becomes its word in the reader's language
    (``issuer.web.words``): ``paid`` is "đã thanh toán" to a Vietnamese reader.
    """

    def __new__(cls, code: str, kind: str):
        word = super().__new__(cls, code)
        word.kind = kind
        return word

    # {kind: {code: English word}}: the words live with the pages that show them
    # (issuer.web.words, a layer above); the app puts them here when it starts.
    words: dict[str, dict[str, str]] = {}

    def said(self, gettext) -> str:
        known = Word.words.get(self.kind, {}).get(str(self))
        return gettext(known) if known else str(self)


class Phrase(str):
    """A piece of English inside a message (``"a refund"``), marked with ``N_`` where it is
    written and said through the catalogues."""

    def said(self, gettext) -> str:
        return gettext(str(self))


class Named(str):
    """A fare category or product inside a message: ``str()`` is its code (the English
    ``error``), said by its name in the reader's language (``name_vi`` / ``name_en``)."""

    def __new__(cls, code: str, thing=None):
        named = super().__new__(cls, code)
        named.names = {language: getattr(thing, f"name_{language}", None) or code
                       for language in ("vi", "en")}
        return named

    def said(self, gettext) -> str:
        return self.names.get(reader_language(), str(self))


class Money(int):
    """An amount of dong inside a message: ``str()`` is ``150000 VND`` (the English record),
    said the way of the reader's language (``150.000 ₫``, ``150,000 ₫``)."""

    def __str__(self) -> str:
        return f"{int(self)} VND"

    def said(self, gettext) -> str:
        return i18n.money(int(self), reader_language())


class Invalid(IssuerError):
    """The input is malformed or breaks a rule (unknown product, bad month, missing route)."""

    status = 400


class NotFound(IssuerError):
    """The account, pass, route or key named does not exist."""

    status = 404


class Conflict(IssuerError):
    """The request is well formed but the current state forbids it (revoked pass, duplicate)."""

    status = 409


class NotReady(IssuerError):
    """The issuer is not set up for this yet (no secret key, no signing key): run ``vexe init``."""

    status = 503


class Forbidden(IssuerError):
    """The caller is known but may not do this (a level-1 e-ID holding a pass, another
    rider's order)."""

    status = 403


class Unsaved(Exception):
    """The database failed during an operator's action (:func:`issuer.platform.audit.action`).

    Not an :class:`IssuerError`: nothing the caller asked for was wrong, and the answer is a
    503 that says whether the action stands. ``saved`` is False when the failure came before
    the commit (nothing was saved, no audit entry either), None when it came during the
    commit (the change and its entry were saved together or not at all; which one is known
    only by looking).
    """

    def __init__(self, saved: bool | None):
        self.saved = saved
        if saved is False:
            message = N_("the database failed before the change was saved: nothing was saved "
                         "and nothing was written to the audit log; try again shortly")
        else:
            message = N_("the database failed while saving: the change and its audit entry "
                         "were saved together or not at all; look before doing it again")
        self.template = message
        super().__init__(message)

    def localized(self, gettext) -> str:
        """The message in the request's language."""
        return gettext(self.template)
