"""Errors the issuer's services raise. Each carries the HTTP status the API answers with;
the command line turns the input errors into exit code 2 and the rest into 1."""


class IssuerError(Exception):
    """Something the caller asked for cannot be done; the message says why, for people."""

    status = 400


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
