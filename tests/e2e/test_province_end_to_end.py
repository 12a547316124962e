"""End to end through the CLI: simulate 2,000 firms, ingest them, seed the store, check realism.

This is the foundation's acceptance test: the whole data spine on a fresh data folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from puhui.cli.main import run
from puhui.data.lake import Lake
from puhui.data.schema import load_catalog
from puhui.data.summary import summarize_lake

pytestmark = pytest.mark.e2e

ENTERPRISES = 2000
MONTHS = 36
SEED = 20261128


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    """A data folder holding a simulated, ingested and seeded province."""
    data_dir = tmp_path_factory.mktemp("puhui-data")
    incoming = data_dir / "incoming" / "province"
    base = ["--data-dir", str(data_dir)]
    assert (
        run(
            [
                *base,
                "simulate",
                "--enterprises",
                str(ENTERPRISES),
                "--months",
                str(MONTHS),
                "--seed",
                str(SEED),
                "--out",
                str(incoming),
            ]
        )
        == 0
    )
    assert run([*base, "ingest-dir", str(incoming)]) == 0
    assert run([*base, "store", "upgrade"]) == 0
    assert run([*base, "store", "seed"]) == 0
    return data_dir


def test_every_table_of_the_data_model_reaches_the_lake(province):
    lake = Lake(province / "lake")
    catalog = load_catalog()
    counts = json.loads((province / "incoming" / "province" / "province.json").read_text())
    expected = counts["row_counts"]
    for table in catalog.tables:
        assert lake.row_count(table.name) == expected[table.name], table.name
    empty = [t.name for t in catalog.tables if lake.row_count(t.name) == 0]
    assert empty == [], f"tables with no rows: {empty}"


def test_the_province_meets_the_realism_bars(province):
    summary = summarize_lake(Lake(province / "lake").connect(), load_catalog())
    assert summary.enterprises == ENTERPRISES
    assert summary.borrowers > 100
    assert 0.01 <= summary.annual_default_rate <= 0.03
    assert 0.005 <= summary.application_fraud_rate <= 0.02


def test_a_second_ingest_of_the_same_deliveries_changes_nothing(province):
    lake = Lake(province / "lake")
    before = {t: lake.row_count(t) for t in lake.tables()}
    assert (
        run(["--data-dir", str(province), "ingest-dir", str(province / "incoming/province")]) == 0
    )
    assert {t: lake.row_count(t) for t in lake.tables()} == before


def test_the_store_holds_the_enterprise_master_branches_and_staff(province):
    engine = sa.create_engine(f"sqlite:///{province / 'puhui.db'}")
    with engine.connect() as connection:
        enterprises = connection.execute(sa.text("select count(*) from enterprise")).scalar()
        branches = connection.execute(sa.text("select count(*) from branch")).scalar()
        managers = connection.execute(
            sa.text("select count(*) from staff where role = 'account_manager'")
        ).scalar()
        seeded = connection.execute(
            sa.text("select count(*) from audit_event where action = 'store.seed'")
        ).scalar()
    assert enterprises == ENTERPRISES
    assert branches >= 11
    assert managers > 0
    assert seeded == 1
