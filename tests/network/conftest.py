"""Fixtures for the network's tests: the issuer's own (an initialised issuer on each database,
its HTTP API and its command line)."""

from tests.issuer.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    api,
    app,
    cli,
    client,
    config,
    device,
    initialised,
    session,
)
