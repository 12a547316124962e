"""Migrations run from code against SQLite, with the environment shipped in the package."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from puhui.data.store.engine import make_engine
from puhui.data.store.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    StoreNotMigratedError,
    alembic_config,
    downgrade,
    head_revision,
    migration_status,
    require_up_to_date,
    script_directory,
    upgrade,
)
from puhui.data.store.tables import Base

STORE_TABLES = {"branch", "staff", "enterprise", "audit_event"}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'store.db'}")


def test_migration_environment_ships_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert any(MIGRATIONS_DIR.glob("versions/0001_*.py"))


def test_alembic_config_is_built_in_code_without_an_ini_file() -> None:
    config = alembic_config()

    assert config.config_file_name is None
    assert Path(config.get_main_option("script_location") or "") == MIGRATIONS_DIR


def test_migration_history_is_one_line_with_a_single_head() -> None:
    scripts = script_directory()

    assert scripts.get_heads() == [head_revision()]
    assert [script.down_revision for script in scripts.walk_revisions()][-1] is None


def test_empty_store_reports_every_revision_pending(engine: Engine) -> None:
    status = migration_status(engine)

    assert status.current is None and not status.up_to_date
    assert status.pending[0] == "0001" and status.pending[-1] == status.head


def test_work_on_an_unmigrated_store_is_refused_with_the_fix(engine: Engine) -> None:
    with pytest.raises(StoreNotMigratedError, match="puhui store upgrade"):
        require_up_to_date(engine)


def test_upgrade_to_head_creates_the_tables_and_is_then_up_to_date(engine: Engine) -> None:
    status = upgrade(engine)

    assert status.up_to_date and status.pending == ()
    assert STORE_TABLES <= set(inspect(engine).get_table_names())
    require_up_to_date(engine)


def test_upgrading_an_up_to_date_store_changes_nothing(engine: Engine) -> None:
    upgrade(engine)

    assert upgrade(engine).current == head_revision()


def test_downgrade_to_base_then_upgrade_round_trips(engine: Engine) -> None:
    upgrade(engine)

    assert downgrade(engine, "base").current is None
    assert not STORE_TABLES & set(inspect(engine).get_table_names())
    assert upgrade(engine).up_to_date
    assert STORE_TABLES <= set(inspect(engine).get_table_names())


def test_migrated_schema_matches_the_orm_models(engine: Engine) -> None:
    upgrade(engine)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_store_at_an_unknown_revision_is_reported_not_guessed(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(MigrationError, match="9999"):
        migration_status(engine)


def test_sqlite_foreign_keys_are_back_on_after_a_migration(engine: Engine) -> None:
    upgrade(engine)

    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_developer_alembic_ini_finds_no_model_changes_missing_a_migration(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The path developers use: `alembic -c .../alembic.ini check` against a migrated store.
    upgrade(engine)
    monkeypatch.delenv("PUHUI_CONFIG", raising=False)
    monkeypatch.setenv("PUHUI_STORE_URL", engine.url.render_as_string(hide_password=False))

    command.check(Config(str(MIGRATIONS_DIR / "alembic.ini")))
