"""The lake summary counts defaults the way a risk officer does: per borrower-year cohort."""

from datetime import date

import duckdb
import pytest

from puhui.data.schema import load_catalog
from puhui.data.summary import summarize_lake


def _months(start: date, count: int) -> list[date]:
    out = []
    year, month = start.year, start.month
    for _ in range(count):
        out.append(date(year, month, 1))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


@pytest.fixture
def con():
    connection = duckdb.connect()
    months = _months(date(2024, 1, 1), 24)
    rows = []
    # A: performs for two years. B: 90+ days in the 18th month. C: starts in month 13, fine.
    for i, m in enumerate(months):
        rows.append(("A", m, 0))
        rows.append(("B", m, 95 if i >= 17 else 0))
        if i >= 12:
            rows.append(("C", m, 0))
    connection.execute(
        "create table bank_loan_monthly (uscc varchar, month date, overdue_days int)"
    )
    connection.executemany("insert into bank_loan_monthly values (?, ?, ?)", rows)
    connection.execute("create table truth_application (is_fraud boolean)")
    connection.execute("insert into truth_application values (true), (false), (false), (false)")
    connection.execute("create table app_application (application_id varchar)")
    connection.execute("insert into app_application values ('1'), ('2'), ('3'), ('4')")
    return connection


def test_default_rate_is_defaults_among_borrowers_performing_at_each_year_start(con):
    summary = summarize_lake(con, load_catalog())
    # Year starts: 2024-01 (A, B) and 2025-01 (A, B, C); B defaults in 2025-06.
    assert summary.borrowers == 3
    assert summary.borrower_years == 5
    assert summary.borrower_defaults == 1
    assert summary.annual_default_rate == pytest.approx(0.2)


def test_fraud_rate_comes_from_ground_truth_when_present(con):
    summary = summarize_lake(con, load_catalog())
    assert summary.applications == 4
    assert summary.application_fraud_rate == pytest.approx(0.25)


def test_tables_missing_from_the_lake_count_as_empty_and_are_noted():
    summary = summarize_lake(duckdb.connect(), load_catalog())
    assert summary.enterprises == 0
    assert summary.annual_default_rate is None
    assert summary.application_fraud_rate is None
    assert summary.notes
