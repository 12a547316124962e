"""Engines and sessions for the operational store (运营库), from one SQLAlchemy URL.

SQLite is the default (a file in the data folder); PostgreSQL and MySQL/MariaDB are chosen by
URL. Each backend gets the connection settings it needs to behave like the others: SQLite
enforces foreign keys and runs in WAL mode, MySQL speaks utf8mb4 in strict mode and UTC.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from puhui.errors import PuhuiError

CONNECT_TIMEOUT_SECONDS = 10
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Recycle before MySQL's wait_timeout and typical proxy idle timeouts close the socket.
POOL_RECYCLE_SECONDS = 1800

_MYSQL_DIALECTS = {"mysql", "mariadb"}
_PASSWORD_IN_URL = re.compile(r"(?P<head>://[^:/@]+:)[^@]*(?P<tail>@)")


class StoreError(PuhuiError):
    """The operational store cannot be used: bad URL, unreachable server, bad data or schema."""


class StoreUrlError(StoreError):
    """The store URL cannot be parsed or names a database driver that is not installed."""


class StoreUnreachableError(StoreError):
    """The store URL is valid but the database does not answer or refuses the connection."""


def mask_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ``***``, safe for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)


def parse_store_url(url: str | URL) -> URL:
    """Parse ``url``, raising :class:`StoreUrlError` that names it (password masked)."""
    if isinstance(url, URL):
        return url
    if not isinstance(url, str) or not url.strip():
        raise StoreUrlError(f"store URL is empty: {url!r}")
    try:
        return make_url(url.strip())
    except (ArgumentError, ValueError) as error:
        raise StoreUrlError(
            f"store URL {mask_url(url)!r} is not a SQLAlchemy URL: {error}"
        ) from error


def is_sqlite_memory(url: URL) -> bool:
    """Whether ``url`` names a private in-memory SQLite database (no file, no WAL)."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database in {"", ":memory:"} or "mode=memory" in str(url)
    )


def make_engine(url: str | URL, *, verify: bool = True, **engine_options: Any) -> Engine:
    """An engine for the store at ``url``; with ``verify`` it connects once to fail early.

    ``engine_options`` override the defaults chosen here (pool sizes, ``echo``...).
    """
    parsed = parse_store_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        _prepare_sqlite_file(parsed)
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_SECONDS
    else:
        options.update(
            pool_size=5,
            max_overflow=10,
            pool_timeout=30,
            pool_recycle=POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
        )
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if backend in _MYSQL_DIALECTS:
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        # Strict mode turns silent truncation into errors; UTC keeps server-side times honest.
        connect_args.setdefault(
            "init_command", "SET SESSION time_zone = '+00:00', sql_mode = 'TRADITIONAL'"
        )
        # As on PostgreSQL: each statement sees the latest commits and InnoDB takes no gap
        # locks, which the audit chain's retry-on-conflict relies on.
        options["isolation_level"] = "READ COMMITTED"
    options.update(engine_options)
    if connect_args:
        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as error:
        raise StoreUrlError(
            f"store URL {mask_url(parsed)!r} needs a database driver that is not installed "
            f"({error}); puhui ships postgresql+psycopg:// and mysql+pymysql://"
        ) from error
    except (ArgumentError, TypeError) as error:
        raise StoreUrlError(f"store URL {mask_url(parsed)!r} is not usable: {error}") from error
    if backend == "sqlite":
        _install_sqlite_hooks(engine, wal=not is_sqlite_memory(parsed))
    if verify:
        verify_connection(engine)
    return engine


def verify_connection(engine: Engine) -> None:
    """Run ``SELECT 1``; a failure becomes :class:`StoreUnreachableError` naming the URL."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = _first_line(getattr(error, "orig", None) or error)
        raise StoreUnreachableError(
            f"cannot reach the store at {mask_url(engine.url)}: {reason}"
        ) from error


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit (no surprise reloads)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _prepare_sqlite_file(url: URL) -> None:
    """Create the folder of a file database so the default store works on a fresh data dir."""
    if is_sqlite_memory(url) or not url.database or url.database.startswith("file:"):
        return
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    """Foreign keys on, WAL journal, and real transactions (BEGIN emitted by SQLAlchemy).

    Python's sqlite3 driver otherwise skips BEGIN before SELECT, DDL and SAVEPOINT, which
    breaks savepoints and transactional migrations.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def _first_line(error: BaseException | object) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
