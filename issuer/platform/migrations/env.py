"""Alembic environment: migrates the database URL it is given.

``issuer.platform.db.migrate`` passes the URL as ``config.attributes["url"]``; run by hand with
``alembic -c issuer/platform/migrations/alembic.ini``, it uses the issuer's own settings.
"""

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from issuer.platform import partitions
from issuer.platform.models import Base
from backoffice import models as _ridership  # noqa: F401  its tables are on Base too

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    from issuer.platform import settings

    return settings.load()["DATABASE_URL"]


def include_name(name, type_, _parents) -> bool:
    """The trips' partitions are made by the ingest, month by month, not by the models: a
    comparison of the schema with the models (autogenerate) leaves them out."""
    return not (type_ == "table" and partitions.is_partition(name))


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=Base.metadata,
                      literal_binds=True, render_as_batch=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = sa.create_engine(database_url(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=connection.dialect.name == "sqlite",
                              include_name=include_name)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
