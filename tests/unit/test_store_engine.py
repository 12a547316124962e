"""Engines from URLs: clear errors for bad URLs, SQLite set up like a server database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

from puhui.data.store.engine import (
    StoreError,
    StoreUnreachableError,
    StoreUrlError,
    make_engine,
    mask_url,
)
from puhui.data.store.types import Money, UtcDateTime, to_money
from puhui.errors import PuhuiError


def test_store_errors_are_puhui_errors_so_the_cli_prints_one_line() -> None:
    assert issubclass(StoreUrlError, StoreError)
    assert issubclass(StoreUnreachableError, StoreError)
    assert issubclass(StoreError, PuhuiError)


def test_unparseable_url_raises_store_url_error_naming_it() -> None:
    with pytest.raises(StoreUrlError, match="not-a-url"):
        make_engine("not-a-url")


def test_empty_url_raises_store_url_error() -> None:
    with pytest.raises(StoreUrlError, match="empty"):
        make_engine("  ")


def test_url_with_a_missing_driver_names_the_url_and_masks_the_password() -> None:
    with pytest.raises(StoreUrlError) as caught:
        make_engine("mysql+mysqldb://bank:s3cret@db.example/puhui")

    message = str(caught.value)
    assert "driver" in message and "db.example/puhui" in message
    assert "s3cret" not in message and "***" in message


def test_unreachable_server_raises_store_unreachable_error_without_the_password() -> None:
    url = "postgresql+psycopg://bank:s3cret@127.0.0.1:1/puhui?connect_timeout=2"

    with pytest.raises(StoreUnreachableError) as caught:
        make_engine(url)

    message = str(caught.value)
    assert "127.0.0.1:1/puhui" in message
    assert "s3cret" not in message and "bank:***@" in message


def test_mask_url_hides_the_password_even_when_the_url_does_not_parse() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert "pw" not in mask_url("weird://u:pw@[broken")


def test_mysql_urls_default_to_utf8mb4() -> None:
    engine = make_engine("mysql+pymysql://root@127.0.0.1:1/x", verify=False)

    assert engine.url.query["charset"] == "utf8mb4"


def test_sqlite_store_enforces_foreign_keys_and_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")

    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_default_sqlite_store_creates_its_missing_data_folder(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "data" / "puhui.db"

    make_engine(f"sqlite:///{database}")

    assert database.parent.is_dir()


def test_sqlite_savepoint_rolls_back_only_its_own_work(tmp_path: Path) -> None:
    # Python's sqlite3 driver breaks SAVEPOINT unless SQLAlchemy emits BEGIN itself.
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        savepoint = connection.begin_nested()
        connection.execute(text("INSERT INTO t VALUES (2)"))
        savepoint.rollback()

    with engine.connect() as connection:
        assert connection.execute(text("SELECT x FROM t")).scalars().all() == [1]


def test_sqlite_keeps_money_exact_to_the_fen_across_the_whole_numeric_range() -> None:
    engine = make_engine("sqlite://")
    metadata = MetaData()
    ledger = Table("ledger", metadata, Column("amount", Money()))
    metadata.create_all(engine)
    amounts = [Decimal("9999999999999999.99"), Decimal("-0.01"), Decimal("1234.50")]

    with engine.begin() as connection:
        connection.execute(insert(ledger), [{"amount": amount} for amount in amounts])
        raw = connection.execute(text("SELECT amount FROM ledger")).scalars().all()
        stored = connection.execute(select(ledger.c.amount)).scalars().all()

    assert stored == amounts and all(isinstance(value, Decimal) for value in stored)
    assert raw == [999999999999999999, -1, 123450]  # integer fen, no float on the way


@pytest.mark.parametrize("bad", [0.1, Decimal("0.001"), Decimal("1e16"), Decimal("NaN")])
def test_money_refuses_floats_sub_fen_and_out_of_range_amounts(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_money(bad)  # type: ignore[arg-type]


def test_timestamps_refuse_naive_datetimes_and_come_back_in_utc() -> None:
    engine = make_engine("sqlite://")
    metadata = MetaData()
    log = Table("log", metadata, Column("at", UtcDateTime()))
    metadata.create_all(engine)
    beijing_afternoon = datetime(2025, 1, 1, 16, tzinfo=timezone(timedelta(hours=8)))

    with pytest.raises(StatementError, match="naive"), engine.begin() as connection:
        connection.execute(insert(log), {"at": datetime(2025, 1, 1, 8)})
    with engine.begin() as connection:
        connection.execute(insert(log), {"at": beijing_afternoon})
        stored = connection.execute(select(log.c.at)).scalar_one()

    assert stored == datetime(2025, 1, 1, 8, tzinfo=UTC) and stored.tzinfo is UTC
