"""Labels for propensity and the fraud proxy, the share-based time split, the quick IV screen and
monotone constraints from the feature catalog's business directions."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from puhui.models.datasets import TARGETS, target
from puhui.models.errors import TrainingDataError
from puhui.models.labels import first_payment_default_labels, propensity_labels
from puhui.models.selection import quick_information_values
from puhui.models.workflow import catalog_monotone, prescreen, split_by_share


@pytest.fixture
def lake_connection() -> duckdb.DuckDBPyConnection:
    """Firm A borrows from January 2025 and never pays (FPD); B was late before applying and
    also stops paying; C has no loan until it borrows in May 2025; D never borrows."""
    connection = duckdb.connect()
    months = pd.date_range("2025-01-01", periods=12, freq="MS").date
    rows = []
    for i, month in enumerate(months):
        rows.append(("L1", "A", month, 30 * (i + 1), "active"))
        rows.append(("L2", "B", month, 30 * (i + 1), "active"))
        if i >= 4:
            rows.append(("L3", "C", month, 0, "active"))
    rows.append(("L0", "B", date(2024, 11, 1), 15, "active"))  # B's earlier delinquency
    connection.execute(
        "create table bank_loan_monthly (loan_id varchar, uscc varchar, month date, "
        "overdue_days int, status varchar)"
    )
    connection.executemany("insert into bank_loan_monthly values (?, ?, ?, ?, ?)", rows)
    connection.execute(
        "create table bank_loan (loan_id varchar, uscc varchar, disbursed_on date, "
        "application_id varchar)"
    )
    connection.execute(
        "insert into bank_loan values ('L1', 'A', date '2025-01-05', 'P1'),"
        " ('L2', 'B', date '2025-01-06', 'P2'), ('L3', 'C', date '2025-05-10', 'P3'),"
        " ('L0', 'B', date '2024-10-01', null)"
    )
    connection.execute(
        "create table app_application (application_id varchar, uscc varchar, "
        "applied_at timestamp, decision varchar)"
    )
    connection.execute(
        "insert into app_application values ('P1', 'A', timestamp '2025-01-02 10:00', 'approved'),"
        " ('P2', 'B', timestamp '2025-01-03 10:00', 'approved'),"
        " ('P3', 'C', timestamp '2025-05-02 10:00', 'approved')"
    )
    connection.execute(
        "create table bureau_enterprise_monthly (uscc varchar, month date, max_overdue_days int)"
    )
    return connection


def test_first_payment_default_needs_a_clean_history(lake_connection) -> None:
    labels = first_payment_default_labels(lake_connection).to_pandas().set_index("application_id")
    assert labels.loc["P1", "fpd_6m"] == 1  # never paid, clean before
    assert labels.loc["P2", "prior_delinquency"] and pd.isna(labels.loc["P2", "fpd_6m"])
    assert labels.loc["P3", "fpd_6m"] == 0  # services its loan; window to Nov 2025 matured


def test_propensity_looks_at_firms_without_a_loan_and_the_next_six_months(lake_connection):
    population = pl.DataFrame(
        {
            "uscc": ["A", "C", "D", "C"],
            "as_of": [date(2025, 3, 1), date(2025, 3, 1), date(2025, 3, 1), date(2025, 8, 1)],
        }
    )
    labels = propensity_labels(lake_connection, population).to_pandas()
    keyed = labels.set_index(["uscc", "as_of"])["took_loan_6m"]
    assert ("A", pd.Timestamp(2025, 3, 1)) not in keyed.index  # borrowing at the end of February
    assert keyed[("C", pd.Timestamp(2025, 3, 1))] == 1  # disbursed 10 May
    assert keyed[("D", pd.Timestamp(2025, 3, 1))] == 0
    # As of August C already borrows (active at the end of July): not a prospect.
    assert ("C", pd.Timestamp(2025, 8, 1)) not in keyed.index


def test_propensity_is_unknown_until_the_window_has_passed(lake_connection):
    population = pl.DataFrame({"uscc": ["D"], "as_of": [date(2025, 9, 1)]})
    labels = propensity_labels(lake_connection, population)
    assert labels["took_loan_6m"].null_count() == 1  # window to Feb 2026, lake ends Dec 2025


def test_unknown_targets_are_named() -> None:
    assert {"application_pd", "behaviour_pd_12m", "propensity", "fraud_fpd"} <= set(TARGETS)
    with pytest.raises(TrainingDataError, match="unknown target 'churn'"):
        target("churn")


def test_time_split_keeps_whole_periods_and_puts_events_in_the_test() -> None:
    time = pd.Series(pd.date_range("2024-01-01", periods=10, freq="MS").repeat(100))
    events = pd.Series(([0] * 99 + [1]) * 8 + [0] * 200)  # no events in the last two months
    split = split_by_share(time, events)
    assigned = pd.Series(split.assign(time))
    assert assigned.groupby(time).nunique().max() == 1  # no period split across sets
    assert events[assigned == "out_of_time"].sum() >= 2
    assert events[assigned == "validation"].sum() >= 1
    assert split.development_end < split.validation_end


def test_time_split_needs_three_periods() -> None:
    time = pd.Series([pd.Timestamp(2024, 1, 1)] * 5 + [pd.Timestamp(2024, 2, 1)] * 5)
    with pytest.raises(TrainingDataError, match="2 as-of date"):
        split_by_share(time)


def test_quick_iv_ranks_informative_columns_first() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    frame = pd.DataFrame(
        {
            "noise": rng.normal(size=2000),
            "signal": y * 1.5 + rng.normal(size=2000),
            "constant": np.ones(2000),
            "empty": np.full(2000, np.nan),
        }
    )
    iv = quick_information_values(frame, y)
    assert iv.index[0] == "signal" and iv["signal"] > 0.3
    assert iv["noise"] < 0.05 and iv["constant"] == 0 and iv["empty"] == 0
    kept, dropped = prescreen(frame, y.astype(float), list(frame.columns))
    assert kept == ["signal"] and "filled on 0.0%" in dropped["empty"]


def test_monotone_constraints_invert_the_catalogs_good_for_credit_direction() -> None:
    catalog = SimpleNamespace(
        features=[
            SimpleNamespace(name="revenue", direction=1),
            SimpleNamespace(name="overdue_days", direction=-1),
            SimpleNamespace(name="industry_share", direction=0),
        ]
    )
    constraints = catalog_monotone(["revenue", "overdue_days", "industry_share"], catalog)
    assert constraints == {"revenue": -1, "overdue_days": 1}
