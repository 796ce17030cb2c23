"""Alembic environment of the case store.

``CaseStore.open`` runs the migrations in code: it builds the Config (no alembic.ini) and
hands over an open connection in ``config.attributes["connection"]``, inside a
transaction it holds. For a developer's ``alembic`` command line, ``sqlalchemy.url`` (or
$SPECTOR_CASES_DB) names the database instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from spector.cases._base import Base
from spector.cases._db import import_models


def _run(connection: Connection, *, with_models: bool) -> None:
    if with_models:  # for `alembic revision --autogenerate`; upgrades need no model
        import_models()
    context.configure(
        connection=connection,
        target_metadata=Base.metadata if with_models else None,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection, with_models=False)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("SPECTOR_CASES_DB")
    if not url:
        raise SystemExit("set sqlalchemy.url or $SPECTOR_CASES_DB to the case store's URL")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn, with_models=True)
    engine.dispose()


run_migrations()
