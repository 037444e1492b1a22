"""The rider's pages: the start page and e-ID sign-in, the account, buying a pass, free
passes. The card on the phone is issuer.card."""

import flask


def blueprints() -> list[flask.Blueprint]:
    from issuer.rider import history, pages, payments, reminders, signin

    return [signin.bp, pages.bp, payments.bp, history.bp, reminders.bp]
