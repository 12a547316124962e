"""The catalog's ``demand`` family (融资需求迹象), run on a small hand-made lake: underlying
growth separates growth from a good or bad spell, and every count stops at its cut-off."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
import pytest

from puhui.features.catalog import load_feature_catalog
from puhui.features.compiler import render_sql_family

AS_OF = date(2026, 7, 1)
MONTHS = [date(2023 + (6 + k) // 12, (6 + k) % 12 + 1, 1) for k in range(36)]  # 2023-07 … 2026-06


def _demand_sql(as_of: date) -> str:
    catalog = load_feature_catalog()
    family = next(f for f in catalog.families if getattr(f, "family", "") == "demand")
    return render_sql_family(family, catalog.lags, as_of)


def _spells(rng: np.random.Generator, firms: int, persistence: float = 0.85) -> np.ndarray:
    """Good and bad spells: a stationary AR(1) condition (sd 0.7), as the simulator's health."""
    condition = np.empty((firms, len(MONTHS)))
    condition[:, 0] = rng.normal(0, 0.7, firms)
    step = 0.7 * np.sqrt(1 - persistence**2)
    for k in range(1, len(MONTHS)):
        condition[:, k] = persistence * condition[:, k - 1] + rng.normal(0, step, firms)
    return condition


def _lake(
    firms: int = 200, seed: int = 7, *, spells: bool = False, short_history: int = 0
) -> tuple[duckdb.DuckDBPyConnection, np.ndarray]:
    """Firms whose revenue grows at ``growth`` a year and moves with a condition (a random walk,
    or with ``spells`` mean-reverting spells) that also sets their margin (so income tax reads
    it); the last ``short_history`` firms report tax for 12 months only. Returns the lake and
    ``growth``."""
    rng = np.random.default_rng(seed)
    growth = rng.normal(0.03, 0.08, firms)
    condition = (
        _spells(rng, firms)
        if spells
        else np.cumsum(rng.normal(0, 0.25, (firms, len(MONTHS))), axis=1)
    )
    t = np.arange(len(MONTHS))
    revenue = (
        1e6
        * np.exp(growth[:, None] * t / 12)
        * np.exp(0.3 * condition)
        * np.exp(rng.normal(0, 0.05, (firms, len(MONTHS))))
    )
    margin = np.clip(0.06 + 0.04 * condition, 0.001, 0.2)
    income_tax = np.zeros_like(revenue)
    for k, month in enumerate(MONTHS):
        if month.month in (1, 4, 7, 10) and k >= 3:
            income_tax[:, k] = 0.05 * (revenue[:, k - 3 : k] * margin[:, k - 3 : k]).sum(axis=1)
    ids = [f"F{i:04d}" for i in range(firms)]
    tax = pl.DataFrame(
        {
            "uscc": np.repeat(ids, len(MONTHS)),
            "month": MONTHS * firms,
            "declared_revenue": revenue.ravel(),
            "income_tax_paid": income_tax.ravel(),
        }
    )
    short = set(ids[firms - short_history :])
    tax = tax.filter(~pl.col("uscc").is_in(short) | (pl.col("month") >= MONTHS[-12]))
    social = pl.DataFrame(
        {"uscc": np.repeat(ids, len(MONTHS)), "month": MONTHS * firms, "insured_headcount": 10}
    )
    reg = pl.DataFrame(
        {
            "uscc": ids,
            "founded_on": [date(2015, 1, 1)] * firms,
            "industry_code": ["C13" if i % 2 else "F51" for i in range(firms)],
        }
    )
    queries = pl.DataFrame(
        {
            "uscc": ["F0000", "F0000", "F0000", "F0001"],
            "queried_at": [
                datetime(2025, 3, 1),
                datetime(2026, 6, 29),
                datetime(2026, 6, 30, 12),  # the day before the cut-off: not yet observable
                datetime(2023, 1, 5),  # older than 24 months
            ],
            "institution_code": ["B1", "B2", "B3", "B1"],
            "reason": ["loan_approval"] * 4,
        }
    )
    applications = pl.DataFrame(
        {
            "uscc": ["F0002", "F0002"],
            "applied_at": [datetime(2026, 6, 30, 9), datetime(2026, 7, 2)],
        }
    )
    connection = duckdb.connect()
    for name, frame in {
        "tax_monthly": tax,
        "social_monthly": social,
        "reg_enterprise": reg,
        "bureau_enterprise_query": queries,
        "app_application": applications,
    }.items():
        connection.register(name, frame.to_arrow())
    return connection, growth


@pytest.fixture(scope="module")
def computed() -> tuple[pl.DataFrame, np.ndarray]:
    connection, growth = _lake()
    frame = connection.sql(_demand_sql(AS_OF)).pl().sort("uscc")
    return frame, growth


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def test_underlying_growth_tracks_growth_better_than_the_raw_revenue_trend(computed) -> None:
    frame, growth = computed
    raw = _rank_correlation(frame["revenue_trend_36m"].to_numpy(), growth)
    underlying = _rank_correlation(frame["underlying_growth_36m"].to_numpy(), growth)
    assert underlying > raw + 0.15
    assert underlying > 0.8


def test_margin_adjusted_quarterly_growth_sees_through_good_and_bad_spells() -> None:
    connection, growth = _lake(spells=True)
    frame = connection.sql(_demand_sql(AS_OF)).pl().sort("uscc")
    raw = _rank_correlation(frame["revenue_trend_36m"].to_numpy(), growth)
    underlying = _rank_correlation(frame["underlying_growth_36m"].to_numpy(), growth)
    adjusted = _rank_correlation(frame["adjusted_growth_36m"].to_numpy(), growth)
    # each quarter's level is netted with that quarter's margin, not trend against trend
    assert adjusted > 0.95
    assert adjusted > underlying + 0.02
    assert adjusted > raw + 0.3


def test_growth_estimate_shrinks_a_short_history_more_towards_the_average() -> None:
    connection, growth = _lake(spells=True, short_history=100)
    frame = connection.sql(_demand_sql(AS_OF)).pl().sort("uscc")
    adjusted = frame["adjusted_growth_36m"].to_numpy()
    estimate = frame["growth_estimate_36m"].to_numpy()
    assert abs(adjusted.mean()) < 1e-9  # against the average firm
    factor = estimate / adjusted  # the same sign, pulled in by the precision of each firm
    assert np.all((factor > 0) & (factor <= 1))
    long_history, short_history = factor[:100], factor[100:]
    assert short_history.max() < long_history.min()
    assert long_history.mean() > 0.8 > 0.5 > short_history.mean()
    # shrinking keeps every firm's order within a history length
    assert _rank_correlation(estimate[:100], growth[:100]) > 0.85


def test_manufacturing_is_industry_section_c(computed) -> None:
    frame, _ = computed
    flags = dict(zip(frame["uscc"], frame["manufacturing"], strict=True))
    assert flags["F0001"] == 1 and flags["F0000"] == 0


def test_queries_and_applications_count_only_what_is_observable_in_the_window(computed) -> None:
    frame, _ = computed
    rows = {r["uscc"]: r for r in frame.iter_rows(named=True)}
    # bureau queries arrive a day late: as of 2026-07-01 the one of 2026-06-30 is not seen yet
    assert rows["F0000"]["loan_queries_24m"] == 2
    assert rows["F0000"]["lenders_queried_24m"] == 2
    assert rows["F0001"]["loan_queries_24m"] == 0  # older than 24 months
    assert rows["F0002"]["applications_24m"] == 1  # the later one is after the date
    assert rows["F0003"]["applications_24m"] == 0


def test_every_firm_founded_before_the_date_has_a_row(computed) -> None:
    frame, _ = computed
    assert frame.height == 200
    assert frame["uscc"].n_unique() == 200
