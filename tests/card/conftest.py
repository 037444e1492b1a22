"""Fixtures for the rider's card: the issuer's own (on SQLite and PostgreSQL)."""

from tests.issuer.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    api,
    app,
    client,
    config,
    device,
    initialised,
    session,
)
