"""The operators' console: sign-in, the sales counter (clerks), free-pass approvals
(approvers) and the ridership pages (analysts), under ``/console``."""

import flask


def blueprints() -> list[flask.Blueprint]:
    from issuer.console import (approvals, company_settlement, counter, payments, ridership,
                                signin)

    return [module.bp for module in (signin, counter, approvals, ridership, payments,
                                     company_settlement)]
