"""Real databases for integration tests: SQLite, PostgreSQL and MariaDB/MySQL.

Each test session creates its own uniquely named database on the PostgreSQL and MariaDB
servers and drops it at the end. Server URLs come from ``PUHUI_TEST_POSTGRES_URL`` and
``PUHUI_TEST_MARIADB_URL`` (defaults: the local trust-auth servers). An unreachable server
skips its tests, unless ``PUHUI_REQUIRE_DBS`` is set (as in CI), which makes them fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, MetaData, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from puhui.data.store.engine import make_engine, mask_url
from puhui.data.store.migrate import downgrade, upgrade

DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}
SERVER_URL_VARIABLES = {
    "postgresql": "PUHUI_TEST_POSTGRES_URL",
    "mariadb": "PUHUI_TEST_MARIADB_URL",
}
BACKENDS = ("sqlite", "postgresql", "mariadb")


def _databases_required() -> bool:
    return os.environ.get("PUHUI_REQUIRE_DBS", "").strip().lower() not in {"", "0", "false", "no"}


def _unavailable(reason: str) -> None:
    if _databases_required():
        pytest.fail(f"{reason} (PUHUI_REQUIRE_DBS is set, so this is a failure)", pytrace=False)
    pytest.skip(f"{reason}; set PUHUI_REQUIRE_DBS=1 to make this a failure")


class _ServerDatabase:
    """A throwaway database on one server, created on first use and dropped at the end."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.server_url: URL = make_url(
            os.environ.get(SERVER_URL_VARIABLES[backend], DEFAULT_SERVER_URLS[backend])
        )
        self.name = f"puhui_test_{secrets.token_hex(6)}"
        self.url: URL | None = None
        self.error: str | None = None
        self._admin: Engine | None = None

    def create(self) -> URL:
        if self.url is not None:
            return self.url
        if self.error is not None:
            _unavailable(self.error)
        admin = create_engine(
            self.server_url,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 5},
        )
        try:
            with admin.connect() as connection:
                if self.backend == "postgresql":
                    connection.execute(text(f"CREATE DATABASE \"{self.name}\" ENCODING 'UTF8'"))
                else:
                    connection.execute(
                        text(
                            f"CREATE DATABASE `{self.name}` "
                            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                        )
                    )
        except SQLAlchemyError as error:
            admin.dispose()
            reason = str(getattr(error, "orig", error)).splitlines()[0]
            self.error = f"{self.backend} server {mask_url(self.server_url)} unavailable: {reason}"
        if self.error is not None:
            _unavailable(self.error)
        self._admin = admin
        self.url = self.server_url.set(database=self.name)
        return self.url

    def drop(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            if self.backend == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{self.name}`"))
        self._admin.dispose()


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, _ServerDatabase]]:
    """One lazily created database per server for the whole test session."""
    servers = {backend: _ServerDatabase(backend) for backend in SERVER_URL_VARIABLES}
    yield servers
    for server in servers.values():
        server.drop()


@pytest.fixture(params=BACKENDS)
def store_url(
    request: pytest.FixtureRequest,
    server_databases: dict[str, _ServerDatabase],
    tmp_path: Path,
) -> str:
    """The URL of an empty store on each backend in turn."""
    backend: str = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return server_databases[backend].create().render_as_string(hide_password=False)


@pytest.fixture
def store_engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty store; whatever the test created is removed afterwards."""
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        _drop_everything(engine)
        engine.dispose()


@pytest.fixture
def migrated_engine(store_engine: Engine) -> Engine:
    """An engine on a store migrated to the newest revision."""
    upgrade(store_engine)
    return store_engine


def _drop_everything(engine: Engine) -> None:
    """Leave the shared server database empty for the next test, even after a failure."""
    # The test may have broken the schema on purpose; reflection below cleans up regardless.
    with contextlib.suppress(Exception):
        downgrade(engine, "base")
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)
