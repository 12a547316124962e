"""Schema migrations of the store, run with Alembic from code.

The Alembic environment and revisions ship inside this package (``migrations/``), and the
Alembic configuration is built here, so an installed wheel migrates without any ``alembic.ini``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from puhui.data.store.engine import StoreError, mask_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class MigrationError(StoreError):
    """A migration failed, or the store's revision is unknown to this version of puhui."""


class StoreNotMigratedError(StoreError):
    """The store's schema is behind this version of puhui; run ``puhui store upgrade``."""


@dataclass(frozen=True)
class MigrationStatus:
    """Where the store's schema stands against the revisions this puhui ships."""

    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        """True when the store is at the newest revision."""
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the packaged environment, built without a file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The packaged revisions."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this puhui ships; there must be exactly one."""
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"the packaged migrations have {len(heads)} heads ({', '.join(heads)}); "
            "merge them into one"
        )
    return heads[0]


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for migrating, committed when the block succeeds.

    On SQLite foreign keys are switched off meanwhile: batch migrations rebuild a table by
    copying it and dropping the original, which would otherwise cascade or fail. The keys
    are checked with ``PRAGMA foreign_key_check`` before committing.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver_connection = connection.connection.driver_connection if sqlite else None
        if driver_connection is not None:
            driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.execute(text("PRAGMA foreign_key_check")).all()
                    if broken:
                        table, rowid, parent, _ = broken[0]
                        raise MigrationError(
                            f"migration leaves {len(broken)} broken foreign keys, first "
                            f"{table} rowid {rowid} → {parent}; nothing was committed"
                        )
        finally:
            if driver_connection is not None:
                driver_connection.execute("PRAGMA foreign_keys = ON")


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at, or None for an empty (never migrated) store."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        raise MigrationError(
            f"cannot read the schema revision of {mask_url(engine.url)}: {error}"
        ) from error


def migration_status(engine: Engine) -> MigrationStatus:
    """The store's revision, the newest one, and the revisions still to apply (oldest first)."""
    current = current_revision(engine)
    head = head_revision()
    scripts = script_directory()
    if current is not None:
        try:
            scripts.get_revision(current)
        except CommandError as error:
            raise MigrationError(
                f"the store {mask_url(engine.url)} is at revision {current!r}, which this "
                "version of puhui does not know (was it migrated by a newer puhui?)"
            ) from error
    pending = tuple(
        reversed(
            [
                script.revision
                for script in scripts.iterate_revisions(head, current or "base")
                if script.revision != current
            ]
        )
    )
    return MigrationStatus(current=current, head=head, pending=pending)


def require_up_to_date(engine: Engine) -> MigrationStatus:
    """Refuse to work on a store whose schema is behind (or ahead of) this puhui."""
    status = migration_status(engine)
    if not status.up_to_date:
        raise StoreNotMigratedError(
            f"the store {mask_url(engine.url)} is at revision {status.current or 'none'} but "
            f"puhui needs {status.head}; run `puhui store upgrade`"
        )
    return status


def upgrade(engine: Engine, revision: str = "head") -> MigrationStatus:
    """Migrate the store up to ``revision`` (default: the newest) in one transaction."""
    _run(engine, "upgrade", revision)
    return migration_status(engine)


def downgrade(engine: Engine, revision: str) -> MigrationStatus:
    """Migrate the store down to ``revision`` (``"base"`` removes every table)."""
    _run(engine, "downgrade", revision)
    return migration_status(engine)


def _run(engine: Engine, direction: str, revision: str) -> None:
    try:
        with migration_connection(engine) as connection:
            config = alembic_config(connection)
            if direction == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    except (CommandError, SQLAlchemyError) as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        raise MigrationError(
            f"{direction} of {mask_url(engine.url)} to {revision!r} failed: {reason}"
        ) from error
