"""The loan book of the synthetic province: repayment, classification, defaults, renewals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from puhui.data.simulate import SimulationConfig, simulate_province
from puhui.data.simulate.config import ClassificationRules, SimulationConfigError, build_config
from puhui.data.simulate.repayment import classify

CONFIG = SimulationConfig(enterprises=2_500, months=36, seed=23, chunk_size=1_000)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    simulate_province(CONFIG, out)
    return out


def read(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{name}.parquet")


def test_classification_follows_the_configured_day_thresholds() -> None:
    days = np.array([0, 0, 15, 91, 271, 361])
    missed = np.array([False, True, False, False, False, False])
    assert classify(days, missed, ClassificationRules()).tolist() == [
        "normal",
        "special_mention",
        "special_mention",
        "substandard",
        "doubtful",
        "loss",
    ]
    stricter = ClassificationRules(substandard_days=60, doubtful_days=180, loss_days=270)
    assert classify(np.array([61, 181, 271]), np.zeros(3, bool), stricter).tolist() == [
        "substandard",
        "doubtful",
        "loss",
    ]


def test_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(SimulationConfigError, match="classification"):
        build_config(classification={"substandard_days": 200, "doubtful_days": 100})


def test_loan_months_are_classified_by_days_overdue(province: Path) -> None:
    months = read(province, "bank_loan_monthly")
    expected = (
        pl.when(pl.col("overdue_days") > 360)
        .then(pl.lit("loss"))
        .when(pl.col("overdue_days") > 270)
        .then(pl.lit("doubtful"))
        .when(pl.col("overdue_days") > 90)
        .then(pl.lit("substandard"))
    )
    severe = months.filter(pl.col("overdue_days") > 90).with_columns(expected.alias("expected"))
    assert severe.height > 50
    assert (severe["classification"] == severe["expected"]).all()
    overdue = months.filter(pl.col("overdue_days") > 0)
    assert (overdue["classification"] != "normal").all()


def test_overdue_days_grow_by_a_month_each_month_once_payments_stop(province: Path) -> None:
    months = read(province, "bank_loan_monthly").sort("loan_id", "month")
    steps = months.with_columns(pl.col("overdue_days").diff().over("loan_id").alias("step")).filter(
        (pl.col("overdue_days") > 60) & (pl.col("status") == "active")
    )
    assert steps["step"].drop_nulls().is_between(28, 31).all()


def test_default_month_is_when_a_debt_first_passes_ninety_days(province: Path) -> None:
    truth = read(province, "truth_enterprise").select("uscc", "default_month")
    bureau = (
        read(province, "bureau_enterprise_monthly")
        .filter(pl.col("max_overdue_days") > 90)
        .group_by("uscc")
        .agg(pl.col("month").min().alias("bureau_month"))
    )
    bank = (
        read(province, "bank_loan_monthly")
        .filter(pl.col("overdue_days") > 90)
        .group_by("uscc")
        .agg(pl.col("month").min().alias("bank_month"))
    )
    both = truth.join(bureau, on="uscc", how="full", coalesce=True).join(
        bank, on="uscc", how="left"
    )
    defaulted = both.filter(pl.col("default_month").is_not_null())
    assert defaulted.height > 30
    assert (defaulted["bureau_month"] == defaulted["default_month"]).mean() > 0.97
    assert (
        both.filter(pl.col("default_month").is_null())["bureau_month"].null_count()
        == both.filter(pl.col("default_month").is_null()).height
    )
    with_bank = defaulted.filter(pl.col("bank_month").is_not_null())
    assert (with_bank["default_month"] <= with_bank["bank_month"]).all()


def test_first_loan_candidates_never_borrowed_anywhere(province: Path) -> None:
    candidates = read(province, "truth_enterprise").filter(pl.col("first_loan_candidate"))["uscc"]
    assert candidates.len() > 0.15 * CONFIG.enterprises
    bureau = read(province, "bureau_enterprise_monthly").filter(
        pl.col("uscc").is_in(candidates.to_list())
    )
    assert not bureau["ever_borrowed"].any()
    assert (bureau["loan_balance"].cast(pl.Float64) == 0).all()
    assert (
        read(province, "bank_loan").filter(pl.col("uscc").is_in(candidates.to_list())).height == 0
    )


def test_maturing_loans_in_good_standing_are_renewed(province: Path) -> None:
    months = read(province, "bank_loan_monthly")
    loans = read(province, "bank_loan")
    renewed = months.filter(pl.col("status") == "renewed").select("uscc", "month")
    follow_ups = loans.filter(pl.col("product_code") == "renewal").select(
        "uscc", pl.col("disbursed_on").dt.truncate("1mo").alias("month")
    )
    assert renewed.height > 50
    assert renewed.join(follow_ups, on=["uscc", "month"], how="semi").height == renewed.height
    applications = read(province, "app_application").filter(pl.col("product_code") == "renewal")
    assert set(loans.filter(pl.col("product_code") == "renewal")["application_id"]) <= set(
        applications["application_id"]
    )


def test_approved_applications_become_loans_at_customers(province: Path) -> None:
    apps = read(province, "app_application")
    loans = read(province, "bank_loan")
    linked = loans.filter(pl.col("application_id").is_not_null()).join(apps, on="application_id")
    assert (linked["decision"] == "approved").all()
    assert (linked["principal"] == linked["approved_amount"]).all()
    approved = apps.filter(pl.col("decision") == "approved")
    assert linked.height >= 0.97 * approved.height
    customers = read(province, "bank_customer").select("uscc", "opened_on")
    opened = loans.join(customers, on="uscc", how="left")
    assert opened["opened_on"].null_count() == 0
    assert (opened["opened_on"] <= opened["disbursed_on"]).all()


def test_written_off_loans_were_lost_first(province: Path) -> None:
    months = read(province, "bank_loan_monthly")
    written = months.filter(pl.col("status") == "written_off")
    assert (written["classification"] == "loss").all()
    assert (written["outstanding_principal"].cast(pl.Float64) == 0).all()
