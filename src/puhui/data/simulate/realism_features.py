"""Lead features of the realism report: what a model developer could compute at a month.

For every sampled firm with debt at month ``t0`` and not yet in default: activity changes,
arrears, bureau and court signals, the owner's card use, age and tax rating; the label is a
default in the next twelve months. Everything is read from the written tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

Scan = Callable[[str], pl.LazyFrame]
LEAD_FEATURES = (
    "revenue_change",
    "tax_arrears",
    "social_arrears",
    "headcount_change",
    "electricity_change",
    "utility_arrears",
    "bureau_queries_6m",
    "new_lenders_6m",
    "max_overdue_days",
    "court_defendant_12m",
    "card_utilisation",
    "inflow_change",
    "firm_age_years",
    "tax_rating",
)
RATING_SCORE = {"A": 0.0, "B": 1.0, "M": 1.5, "C": 2.0, "D": 3.0}


def month_index(column: str) -> pl.Expr:
    return (
        pl.col(column).dt.year().cast(pl.Int64) * 12 + pl.col(column).dt.month().cast(pl.Int64) - 1
    )


def sampled(scan: Scan, sample: list[str]) -> Scan:
    """Read each table once, only the rows of sampled firms (and their legal representatives)."""
    frames: dict[str, pl.DataFrame] = {}
    reps = (
        scan("reg_enterprise").filter(pl.col("uscc").is_in(sample)).select("legal_rep_id").collect()
    )
    owners = reps["legal_rep_id"].to_list()

    def get(name: str) -> pl.LazyFrame:
        if name not in frames:
            frame = scan(name)
            columns = frame.collect_schema().names()
            if "uscc" in columns:
                frame = frame.filter(pl.col("uscc").is_in(sample))
            elif "party_id" in columns:
                frame = frame.filter(pl.col("party_id").is_in(sample))
            elif "person_id" in columns:
                frame = frame.filter(pl.col("person_id").is_in(owners))
            frames[name] = frame.collect()
        return frames[name].lazy()

    return get


def lead_features(scan: Scan, sample: list[str], t0: int) -> pl.DataFrame:
    """One row per sampled firm with debt at month ``t0``: lead features and the label."""
    keep = pl.col("uscc").is_in(sample)

    def window(name: str, columns: list[str], lo: int) -> pl.LazyFrame:
        return (
            scan(name)
            .filter(keep)
            .with_columns(month_index("month").alias("m"))
            .filter((pl.col("m") >= t0 - lo) & (pl.col("m") <= t0))
            .select(["uscc", "m", *[pl.col(c).cast(pl.Float64) for c in columns]])
        )

    def recent_vs_base(col: str) -> pl.Expr:
        recent = pl.col(col).filter(pl.col("m") >= t0 - 2).sum()
        base = pl.col(col).filter((pl.col("m") >= t0 - 8) & (pl.col("m") <= t0 - 6)).sum()
        return (recent + 1).log() - (base + 1).log()

    def now(col: str) -> pl.Expr:
        return pl.col(col).filter(pl.col("m") == t0).sum()

    bureau = (
        window("bureau_enterprise_monthly", ["loan_balance", "lender_count", "max_overdue_days"], 6)
        .group_by("uscc")
        .agg(
            now("loan_balance").alias("debt"),
            now("max_overdue_days").alias("max_overdue_days"),
            (
                now("lender_count") - pl.col("lender_count").filter(pl.col("m") == t0 - 6).sum()
            ).alias("new_lenders_6m"),
        )
    )
    tax = (
        window("tax_monthly", ["declared_revenue", "tax_arrears"], 8)
        .group_by("uscc")
        .agg(
            recent_vs_base("declared_revenue").alias("revenue_change"),
            (now("tax_arrears") > 0).cast(pl.Float64).alias("tax_arrears"),
        )
    )
    social = (
        window("social_monthly", ["insured_headcount", "arrears_amount"], 6)
        .group_by("uscc")
        .agg(
            (
                (now("insured_headcount") + 1).log()
                - (pl.col("insured_headcount").filter(pl.col("m") == t0 - 6).sum() + 1).log()
            ).alias("headcount_change"),
            (now("arrears_amount") > 0).cast(pl.Float64).alias("social_arrears"),
        )
    )
    utility = (
        window("utility_monthly", ["electricity_kwh", "arrears_amount"], 8)
        .group_by("uscc")
        .agg(
            recent_vs_base("electricity_kwh").alias("electricity_change"),
            (now("arrears_amount") > 0).cast(pl.Float64).alias("utility_arrears"),
        )
    )
    account = (
        window("bank_account_monthly", ["inflow_amount"], 8)
        .group_by("uscc")
        .agg(recent_vs_base("inflow_amount").alias("inflow_change"))
    )
    queries = (
        scan("bureau_enterprise_query")
        .filter(keep)
        .with_columns(month_index("queried_at").alias("m"))
        .filter(
            (pl.col("m") > t0 - 6) & (pl.col("m") <= t0) & (pl.col("reason") == "loan_approval")
        )
        .group_by("uscc")
        .agg(pl.len().cast(pl.Float64).alias("bureau_queries_6m"))
    )
    cases = (
        scan("court_case")
        .filter(pl.col("party_id").is_in(sample) & (pl.col("party_role") == "defendant"))
        .with_columns(month_index("filed_on").alias("m"))
        .filter((pl.col("m") > t0 - 12) & (pl.col("m") <= t0))
        .group_by(pl.col("party_id").alias("uscc"))
        .agg(pl.len().cast(pl.Float64).alias("court_defendant_12m"))
    )
    registry = (
        scan("reg_enterprise")
        .filter(keep)
        .select("uscc", "legal_rep_id", month_index("founded_on").alias("founded"))
    )
    cards = (
        scan("bureau_person_monthly")
        .with_columns(month_index("month").alias("m"))
        .filter(pl.col("m") == t0)
        .select(
            pl.col("person_id").alias("legal_rep_id"),
            (
                pl.col("card_used").cast(pl.Float64)
                / pl.max_horizontal(pl.col("card_limit").cast(pl.Float64), pl.lit(1.0))
            ).alias("card_utilisation"),
        )
    )
    rating = (
        scan("tax_rating")
        .filter(keep)
        .with_columns(month_index("published_on").alias("m"))
        .filter(pl.col("m") <= t0)
        .sort("m")
        .group_by("uscc")
        .agg(pl.col("rating").last())
        .with_columns(
            pl.col("rating")
            .replace_strict(RATING_SCORE, return_dtype=pl.Float64)
            .alias("tax_rating")
        )
        .drop("rating")
    )
    truth = (
        scan("truth_enterprise")
        .filter(keep)
        .select("uscc", month_index("default_month").alias("default"))
    )

    frame = (
        bureau.filter(pl.col("debt") > 0)
        .join(truth, on="uscc", how="left")
        .filter(pl.col("default").is_null() | (pl.col("default") > t0))
        .with_columns(
            pl.col("default")
            .is_not_null()
            .and_(pl.col("default") <= t0 + 12)
            .fill_null(False)
            .alias("label")
        )
    )
    for part in (tax, social, utility, account, queries, cases, rating):
        frame = frame.join(part, on="uscc", how="left")
    frame = (
        frame.join(registry, on="uscc", how="left")
        .join(cards, on="legal_rep_id", how="left")
        .with_columns(
            ((t0 - pl.col("founded")) / 12).alias("firm_age_years"),
            pl.col("bureau_queries_6m").fill_null(0.0),
            pl.col("court_defendant_12m").fill_null(0.0),
        )
    )
    return frame.select("uscc", "label", *LEAD_FEATURES).collect()


def tame(features: np.ndarray) -> np.ndarray:
    """Clip log-ratios and log counts so a linear model sees roughly linear effects."""
    tamed = features.copy()
    for i, name in enumerate(LEAD_FEATURES):
        if name.endswith("_change"):
            tamed[:, i] = np.clip(tamed[:, i], -3, 3)
        elif name in {
            "bureau_queries_6m",
            "court_defendant_12m",
            "max_overdue_days",
            "firm_age_years",
        }:
            tamed[:, i] = np.log1p(np.maximum(tamed[:, i], 0))
    return tamed
