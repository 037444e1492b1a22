"""The operators' console: sign-in, the sales counter (clerks), free-pass approvals
(approvers) and the ridership pages (analysts), under ``/console``."""

import flask


def blueprints() -> list[flask.Blueprint]:
    from issuer.console import approvals, counter, help, payments, ridership, signin
    from issuer.console import admin_audit, admin_catalogue, admin_keys, admin_network
    from issuer.console import admin_operators, admin_passes

    return [module.bp for module in (signin, counter, approvals, ridership, payments, help,
                                     admin_passes, admin_keys, admin_audit,
                                     admin_operators, admin_network, admin_catalogue)]
