"""``puhui store`` commands against a SQLite store in a temporary data folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from puhui.cli.main import run


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder, with no stray PUHUI_* settings or puhui.toml in the way."""
    for name in ("PUHUI_STORE_URL", "PUHUI_DATA_DIR", "PUHUI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _write_lake(lake: Path) -> None:
    tables = {
        "bank_branch": {
            "branch_id": ["330100-00", "330100-03"],
            "name": ["杭州分行", "西湖支行"],
            "level": ["branch", "sub_branch"],
            "parent_branch_id": [None, "330100-00"],
            "division_code": ["330100", "330106"],
        },
        "bank_staff": {
            "staff_id": ["CM0001"],
            "name": ["张三"],
            "role": ["account_manager"],
            "branch_id": ["330100-03"],
            "phone": ["13812345678"],
        },
        "reg_enterprise": {
            "uscc": ["91330100MA0000001X", "91330100MA0000002X"],
            "name": ["杭州甲纺织有限公司", "杭州乙贸易有限公司"],
            "division_code": ["330106", "330106"],
            "industry_code": ["C17", "F51"],
            "size_class": ["small", "micro"],
            "founded_on": [date(2015, 1, 1), date(2020, 2, 2)],
        },
        "bank_customer": {
            "uscc": ["91330100MA0000001X"],
            "branch_id": ["330100-03"],
            "account_manager_id": ["CM0001"],
            "opened_on": [date(2021, 1, 1)],
        },
    }
    for table, columns in tables.items():
        folder = lake / table / "month=2025-05"
        folder.mkdir(parents=True)
        pl.DataFrame(columns).write_parquet(folder / "part-0.parquet")


def _puhui(data_dir: Path, *args: str) -> int:
    return run(["--data-dir", str(data_dir), "store", *args])


def test_current_on_a_fresh_data_folder_reports_the_pending_revision(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _puhui(data_dir, "current") == 0

    assert "revision none" in capsys.readouterr().out


def test_current_check_fails_until_the_store_is_upgraded(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _puhui(data_dir, "current", "--check") == 1
    assert "puhui store upgrade" in capsys.readouterr().err

    assert _puhui(data_dir, "upgrade") == 0
    assert _puhui(data_dir, "current", "--check") == 0
    assert "up to date" in capsys.readouterr().out


def test_upgrade_creates_the_default_sqlite_store_in_the_data_folder(data_dir: Path) -> None:
    assert _puhui(data_dir, "upgrade") == 0

    assert (data_dir / "puhui.db").is_file()


def test_seed_refuses_an_unmigrated_store(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _puhui(data_dir, "seed") == 1

    assert "run `puhui store upgrade`" in capsys.readouterr().err


def test_seed_without_a_lake_names_the_missing_table(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _puhui(data_dir, "upgrade")

    assert _puhui(data_dir, "seed") == 1

    error = capsys.readouterr().err
    assert error.startswith("error: lake table 'bank_branch' is missing")


def test_seed_then_status_shows_the_loaded_rows(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lake(data_dir / "lake")
    _puhui(data_dir, "upgrade")
    capsys.readouterr()

    assert _puhui(data_dir, "seed") == 0
    seeded = capsys.readouterr().out
    assert _puhui(data_dir, "status") == 0
    status = capsys.readouterr().out

    assert "enterprise" in seeded and "audit entry 1" in seeded
    counts = {
        cells[0]: cells[1]
        for line in status.splitlines()
        if len(cells := [cell.strip() for cell in line.strip("│┃ ").split("│")]) == 2
    }
    seeded_tables = {"audit_event": "1", "branch": "2", "staff": "1", "enterprise": "2"}
    assert {table: counts[table] for table in seeded_tables} == seeded_tables
    assert {n for t, n in counts.items() if t not in seeded_tables} == {"0"}  # later capabilities


def test_bad_store_url_is_one_line_error_with_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    code = run(["--store-url", "postgresql+psycopg://bank:s3cret@127.0.0.1:1/x", "store", "status"])

    error = capsys.readouterr().err
    assert code == 1 and error.startswith("error: cannot reach the store")
    assert "s3cret" not in error and len(error.strip().splitlines()) == 1
