"""Alembic environment for the operational store.

puhui runs migrations with a connection it opened itself (``config.attributes["connection"]``,
see ``puhui.data.store.migrate``). The ``alembic`` command line, used by developers to write
revisions, gets its URL from ``sqlalchemy.url`` or else from puhui's settings.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeEngine

from puhui.data.store import types as store_types
from puhui.data.store.tables import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render puhui's own column types as ``store_types.X()`` with the import they need."""
    if type_ == "type" and isinstance(obj, TypeEngine):
        name = type(obj).__name__
        if type(obj).__module__ == store_types.__name__:
            autogen_context.imports.add("from puhui.data.store import types as store_types")
            return f"store_types.{name}()"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        compare_type=True,
        **options,
    )


def _run_with(connection: Connection) -> None:
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from puhui.settings import load_settings

    return load_settings().resolved_store_url


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the connection puhui handed in, or one opened from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    from puhui.data.store.engine import make_engine
    from puhui.data.store.migrate import migration_connection

    engine = make_engine(_url())
    try:
        with migration_connection(engine) as opened:
            _run_with(opened)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
