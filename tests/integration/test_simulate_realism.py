"""A few-thousand-firm province behaves like a real SME loan book (the realism bars).

One province (5,000 firms × 36 months, the default seed) is built once for the module; every
figure is computed from the tables as written, as a model developer would see them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from puhui.data.simulate import SimulationConfig, SimulationReport, simulate_province

CONFIG = SimulationConfig(enterprises=5_000, months=36)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationReport, Path]:
    out = tmp_path_factory.mktemp("province")
    return simulate_province(CONFIG, out), out


@pytest.fixture(scope="module")
def report(built: tuple[SimulationReport, Path]) -> SimulationReport:
    return built[0]


@pytest.fixture(scope="module")
def folder(built: tuple[SimulationReport, Path]) -> Path:
    return built[1]


def read(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{name}.parquet")


def month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year() * 12 + pl.col(column).dt.month() - 1


@pytest.fixture(scope="module")
def anchored(folder: Path) -> tuple[pl.DataFrame, int]:
    """Firms with debt, anchored at their default month (or a late month if they never default)."""
    start = read(folder, "tax_monthly").select(month_index("month").min()).item()
    debtors = read(folder, "bureau_enterprise_monthly").filter(pl.col("loan_balance") > 0)
    firms = (
        read(folder, "truth_enterprise")
        .join(debtors.select("uscc").unique(), on="uscc")
        .select("uscc", month_index("default_month").alias("default"))
        .with_columns(
            pl.col("default").is_not_null().alias("defaulted"),
            pl.col("default").fill_null(start + 30).alias("anchor"),
        )
        .filter(pl.col("anchor") >= start + 15)
    )
    return firms, start


def share_flagged(firms: pl.DataFrame, flagged: pl.DataFrame) -> tuple[float, float]:
    """(share of defaulters flagged, share of other debtors flagged)."""
    joined = firms.join(flagged.select("uscc", "flag"), on="uscc", how="left").with_columns(
        pl.col("flag").fill_null(False)
    )
    rates = dict(joined.group_by("defaulted").agg(pl.col("flag").mean()).iter_rows())
    return rates[True], rates[False]


def test_borrower_annual_default_rate_is_between_one_and_three_percent(
    report: SimulationReport,
) -> None:
    assert 0.01 <= report.realism.borrower_default_rate <= 0.03
    assert report.realism.borrowers > 500


def test_application_fraud_rate_is_between_half_and_two_percent(report: SimulationReport) -> None:
    assert 0.005 <= report.realism.application_fraud_rate <= 0.02
    assert set(report.realism.fraud_applications_by_type) == {
        "shell",
        "data_farming",
        "identity_theft",
        "probing",
    }


def test_no_single_observable_feature_separates_defaults(report: SimulationReport) -> None:
    aucs = report.realism.single_feature_auc
    assert len(aucs) >= 12
    assert max(aucs.values()) < 0.85
    assert report.realism.best_single_feature_auc == max(aucs.values())


def test_a_simple_model_on_lead_features_reaches_a_realistic_auc(report: SimulationReport) -> None:
    assert report.realism.scored_defaults > 200
    assert 0.75 <= report.realism.model_auc <= 0.85
    assert report.realism.model_auc > report.realism.best_single_feature_auc + 0.05
    assert all(report.realism.bars.values())


def test_defaults_are_preceded_by_tax_and_social_arrears(
    folder: Path, anchored: tuple[pl.DataFrame, int]
) -> None:
    firms, _ = anchored
    window = (pl.col("m") >= pl.col("anchor") - 12) & (pl.col("m") <= pl.col("anchor") - 3)
    flagged = (
        pl.concat(
            [
                read(folder, name)
                .with_columns(month_index("month").alias("m"))
                .join(firms, on="uscc")
                .filter(window)
                .group_by("uscc")
                .agg((pl.col(column) > 0).any().alias("flag"))
                for name, column in (
                    ("tax_monthly", "tax_arrears"),
                    ("social_monthly", "arrears_amount"),
                )
            ]
        )
        .group_by("uscc")
        .agg(pl.col("flag").any())
    )
    defaulters, others = share_flagged(firms, flagged)
    assert defaulters > 0.6
    assert others < 0.2


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("utility_monthly", "electricity_kwh"),
        ("tax_monthly", "declared_revenue"),
        ("bank_account_monthly", "inflow_amount"),
    ],
)
def test_defaults_are_preceded_by_falling_activity(
    folder: Path, anchored: tuple[pl.DataFrame, int], table: str, column: str
) -> None:
    firms, start = anchored
    ratios = (
        read(folder, table)
        .with_columns(month_index("month").alias("m"), pl.col(column).cast(pl.Float64))
        .join(firms, on="uscc")
        .group_by("uscc")
        .agg(
            (
                pl.col(column)
                .filter(pl.col("m").is_between(pl.col("anchor") - 5, pl.col("anchor") - 3))
                .mean()
                / pl.col(column).filter(pl.col("m") < start + 6).mean()
            ).alias("ratio")
        )
        .drop_nulls()
        .with_columns((pl.col("ratio") < 0.7).alias("flag"))
    )
    by_group = {
        defaulted: (median, dropped)
        for defaulted, median, dropped in ratios.join(firms, on="uscc")
        .group_by("defaulted")
        .agg(pl.col("ratio").median(), pl.col("flag").mean())
        .iter_rows()
    }
    assert by_group[True][0] < 0.8 * by_group[False][0]
    assert by_group[True][1] > 2 * by_group[False][1]


def test_distress_shows_in_bureau_queries_and_lawsuits_before_default(
    folder: Path, anchored: tuple[pl.DataFrame, int]
) -> None:
    firms, _ = anchored
    queries = (
        read(folder, "bureau_enterprise_query")
        .filter(pl.col("reason") == "loan_approval")
        .with_columns(month_index("queried_at").alias("m"))
        .join(firms, on="uscc")
        .filter(pl.col("m").is_between(pl.col("anchor") - 9, pl.col("anchor") - 3))
        .group_by("uscc")
        .agg((pl.len() >= 3).alias("flag"))
    )
    cases = (
        read(folder, "court_case")
        .filter(pl.col("party_role") == "defendant")
        .rename({"party_id": "uscc"})
        .with_columns(month_index("filed_on").alias("m"))
        .join(firms, on="uscc")
        .filter(pl.col("m").is_between(pl.col("anchor") - 12, pl.col("anchor") - 1))
        .group_by("uscc")
        .agg(pl.lit(True).alias("flag"))
    )
    for flagged, factor in ((queries, 5), (cases, 3)):
        defaulters, others = share_flagged(firms, flagged)
        assert defaulters > factor * others


def test_enforcement_and_dishonest_listing_come_after_default(folder: Path) -> None:
    truth = read(folder, "truth_enterprise").select("uscc", "default_month")
    listed = (
        read(folder, "court_dishonest")
        .filter(pl.col("party_type") == "enterprise")
        .rename({"party_id": "uscc"})
        .join(truth, on="uscc")
    )
    assert listed.height > 10
    assert (listed["listed_on"] > listed["default_month"]).all()
    lender_suits = (
        read(folder, "court_case")
        .filter(pl.col("cause") == "金融借款合同纠纷")
        .rename({"party_id": "uscc"})
        .join(truth, on="uscc")
    )
    assert (lender_suits["filed_on"] >= lender_suits["default_month"]).all()
