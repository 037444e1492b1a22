"""The language of each request, and the filters that write money, months and times in it.

One language at a time: the ``vexe_lang`` cookie (set by the switch on every page, ``/lang/<code>``)
decides; on a first visit, the browser's Accept-Language; Vietnamese when it names neither.
Views and templates translate with Flask-Babel's ``_``/``gettext``; the catalogues are
``shared/locale`` (see :mod:`shared.i18n`).
"""

from __future__ import annotations

import flask
from flask_babel import Babel, Domain, get_locale, gettext

from issuer.web import browser, words
from shared import i18n

COOKIE = "vexe_lang"
COOKIE_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie
# Every answer varies with both: a cache must not give one rider's language to another.
VARY = "Cookie, Accept-Language"

bp = flask.Blueprint("language", __name__)


def current() -> str:
    """The language of this request: ``vi`` or ``en``."""
    return str(get_locale() or i18n.DEFAULT)


def _select() -> str:
    chosen = flask.request.cookies.get(COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.best_match(flask.request.headers.get("Accept-Language"))


class CatalogueDomain(Domain):
    """Flask-Babel's domain, reading vexe's catalogues (compiled in memory by shared.i18n)."""

    def get_translations(self):
        return i18n.translations(current())


@bp.get("/lang/<code>")
def switch(code: str):
    """The switch: remember the language and go back to the page it was pressed on. A link,
    so it works with JavaScript off."""
    if code not in i18n.LANGUAGES:
        flask.abort(404)
    response = flask.redirect(browser.safe_next(flask.request.args.get("next"), "/"), 303)
    response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, samesite="Lax",
                        secure=flask.request.is_secure, httponly=True)
    return response


def _switch_links() -> list[dict]:
    """The other languages, each a link back to this page in it."""
    here = flask.request.full_path if flask.request.query_string else flask.request.path
    return [{"code": code, "name": i18n.NAMES[code],
             "href": flask.url_for("language.switch", code=code, next=here)}
            for code in i18n.LANGUAGES if code != current()]


def init_app(app: flask.Flask) -> None:
    babel = Babel(app, default_locale=i18n.DEFAULT, locale_selector=_select)
    babel.domain_instance = CatalogueDomain()
    app.register_blueprint(bp)

    @app.context_processor
    def language_context():
        return {"lang": current(), "other_languages": _switch_links()}

    @app.after_request
    def vary(response: flask.Response) -> flask.Response:
        for name in VARY.split(", "):
            response.vary.add(name)
        return response

    filters = app.jinja_env.filters
    filters["vnd"] = lambda amount: "" if amount is None else i18n.money(amount, current())
    filters["local"] = lambda at: i18n.moment(at, current())
    filters["month"] = lambda text: i18n.month(text, current()) if text else ""
    filters["day"] = lambda date: "" if date is None else i18n.day(date, current())
    filters["word"] = words.word
    filters["named"] = lambda thing: words.named(thing, current())
    filters["said"] = said


def said(exc) -> str:
    """An IssuerError's message, or a reason the services wrote (issuer.sales.reasons), in
    the request's language, for a flash or a page; any other text as it is."""
    if exc is None:
        return ""
    return exc.localized(gettext) if hasattr(exc, "localized") else str(exc)
