"""The realism report: does the province behave like a real SME loan book?

Computed from the tables as written (not from the simulator's internals), so it checks what
a model developer would actually see:

- the annual default rate of borrowers (bar: 1–3%) and the application fraud rate (0.5–2%);
- how well each observable lead feature alone ranks next-12-month defaults (bar: best single
  AUC well below 0.9), and how well a small gradient-boosting model on a dozen of them does,
  trained on half the firms and scored on the other half (bar: about 0.75–0.85);
- how often defaults were preceded by arrears, utility drops and bureau queries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from puhui.data.simulate.timeline import stream

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
OBSERVE_FROM = 8  # months of history a firm needs before it is scored
OBSERVE_EVERY = 3  # months between observation points
RATING_SCORE = {"A": 0.0, "B": 1.0, "M": 1.5, "C": 2.0, "D": 3.0}
BARS = {
    "borrower_default_rate": (0.01, 0.03),
    "application_fraud_rate": (0.005, 0.02),
    "best_single_feature_auc": (0.5, 0.85),
    "model_auc": (0.75, 0.85),
}


class RealismReport(BaseModel):
    """Headline figures of a synthetic province and whether each meets its bar."""

    model_config = ConfigDict(frozen=True)

    firms: int
    size_mix: dict[str, float]
    first_loan_candidate_share: float
    borrowers: int
    borrower_default_rate: float
    borrower_default_rate_by_year: list[float]
    applications: int
    application_fraud_rate: float
    fraud_applications_by_type: dict[str, int]
    scored_firm_months: int
    scored_defaults: int
    single_feature_auc: dict[str, float]
    best_single_feature: str
    best_single_feature_auc: float
    model_auc: float
    logistic_auc: float
    defaults_with_lead_signal: dict[str, float]
    bars: dict[str, bool]


def _month_index(column: str) -> pl.Expr:
    return (
        pl.col(column).dt.year().cast(pl.Int64) * 12 + pl.col(column).dt.month().cast(pl.Int64) - 1
    )


def _auc(labels: np.ndarray, values: np.ndarray) -> float:
    if labels.min() == labels.max():
        return float("nan")
    filled = np.where(
        np.isnan(values), np.nanmedian(values) if (~np.isnan(values)).any() else 0, values
    )
    auc = roc_auc_score(labels, filled)
    return float(max(auc, 1 - auc))


def default_rates(scan: Scan, months: int, start: int) -> tuple[int, list[float]]:
    """Share of performing borrowers at each year start that default within that year."""
    truth = scan("truth_enterprise").select("uscc", _month_index("default_month").alias("default"))
    loans = scan("bank_loan_monthly").select(
        "uscc", _month_index("month").alias("m"), "status", "overdue_days"
    )
    rates, borrowers = [], 0
    for year_start in range(start, start + months - 11, 12):
        performing = (
            loans.filter(
                (pl.col("m") == year_start)
                & (pl.col("status") == "active")
                & (pl.col("overdue_days") <= 90)
            )
            .select("uscc")
            .unique()
            .join(truth, on="uscc", how="left")
            .filter(pl.col("default").is_null() | (pl.col("default") >= year_start))
            .collect()
        )
        defaults = performing.filter(pl.col("default") < year_start + 12).height
        borrowers = max(borrowers, performing.height)
        rates.append(defaults / performing.height if performing.height else float("nan"))
    return borrowers, rates


def lead_features(scan: Scan, sample: list[str], t0: int) -> pl.DataFrame:
    """One row per sampled firm with debt at month ``t0``: lead features and the label."""
    keep = pl.col("uscc").is_in(sample)

    def window(name: str, columns: list[str], lo: int) -> pl.LazyFrame:
        return (
            scan(name)
            .filter(keep)
            .with_columns(_month_index("month").alias("m"))
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
        .with_columns(_month_index("queried_at").alias("m"))
        .filter(
            (pl.col("m") > t0 - 6) & (pl.col("m") <= t0) & (pl.col("reason") == "loan_approval")
        )
        .group_by("uscc")
        .agg(pl.len().cast(pl.Float64).alias("bureau_queries_6m"))
    )
    cases = (
        scan("court_case")
        .filter(pl.col("party_id").is_in(sample) & (pl.col("party_role") == "defendant"))
        .with_columns(_month_index("filed_on").alias("m"))
        .filter((pl.col("m") > t0 - 12) & (pl.col("m") <= t0))
        .group_by(pl.col("party_id").alias("uscc"))
        .agg(pl.len().cast(pl.Float64).alias("court_defendant_12m"))
    )
    registry = (
        scan("reg_enterprise")
        .filter(keep)
        .select("uscc", "legal_rep_id", _month_index("founded_on").alias("founded"))
    )
    cards = (
        scan("bureau_person_monthly")
        .with_columns(_month_index("month").alias("m"))
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
        .with_columns(_month_index("published_on").alias("m"))
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
        .select("uscc", _month_index("default_month").alias("default"))
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


def _sampled(scan: Scan, sample: list[str]) -> Scan:
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


def measure(scan: Scan, sample: list[str], months: int, start: int, seed: int) -> RealismReport:
    """Compute the realism report from written tables (``scan(name)`` gives a LazyFrame)."""
    scored = _sampled(scan, sample)
    registry = scan("reg_enterprise").select("uscc", "size_class").collect()
    truth = scan("truth_enterprise").select("first_loan_candidate").collect()
    borrowers, by_year = default_rates(scan, months, start)
    apps = scan("truth_application").select("is_fraud", "fraud_type").collect()
    fraud_counts = apps.filter(pl.col("is_fraud")).group_by("fraud_type").len().sort("fraud_type")

    observation = range(start + OBSERVE_FROM, start + months - 12, OBSERVE_EVERY)
    frames = [lead_features(scored, sample, t0) for t0 in observation]
    data = pl.concat(frames) if frames else pl.DataFrame()
    labels = data["label"].to_numpy().astype(int) if data.height else np.zeros(0, dtype=int)
    features = (
        _tame(data.select(LEAD_FEATURES).to_numpy().astype(float))
        if data.height
        else np.zeros((0, 0))
    )
    single = (
        {name: round(_auc(labels, features[:, i]), 4) for i, name in enumerate(LEAD_FEATURES)}
        if data.height and labels.any()
        else {}
    )
    best = max(single, key=lambda k: (np.nan_to_num(single[k]), k)) if single else ""
    model_auc, logistic_auc = _model_aucs(data, labels, features, seed)

    report = {
        "firms": registry.height,
        "size_mix": {
            k: round(v, 4)
            for k, v in zip(
                *np.unique(registry["size_class"].to_numpy(), return_counts=True), strict=True
            )
        },
        "first_loan_candidate_share": round(float(truth["first_loan_candidate"].mean() or 0), 4),
        "borrowers": borrowers,
        "borrower_default_rate": round(float(np.nanmean(by_year)) if by_year else float("nan"), 4),
        "borrower_default_rate_by_year": [round(r, 4) for r in by_year],
        "applications": apps.height,
        "application_fraud_rate": round(float(apps["is_fraud"].mean() or 0), 4),
        "fraud_applications_by_type": dict(
            zip(fraud_counts["fraud_type"].to_list(), fraud_counts["len"].to_list(), strict=True)
        ),
        "scored_firm_months": len(labels),
        "scored_defaults": int(labels.sum()),
        "single_feature_auc": single,
        "best_single_feature": best,
        "best_single_feature_auc": single.get(best, float("nan")),
        "model_auc": round(model_auc, 4),
        "logistic_auc": round(logistic_auc, 4),
        "defaults_with_lead_signal": _lead_signal_shares(data),
    }
    counts = report["size_mix"]
    total = sum(counts.values())
    report["size_mix"] = {k: round(v / total, 4) for k, v in counts.items()}
    report["bars"] = {name: bool(lo <= report[name] <= hi) for name, (lo, hi) in BARS.items()}
    return RealismReport(**report)


def _tame(features: np.ndarray) -> np.ndarray:
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


def _model_aucs(
    data: pl.DataFrame, labels: np.ndarray, features: np.ndarray, seed: int
) -> tuple[float, float]:
    """Gradient boosting and logistic regression, each trained on one half of the firms and
    scored on the other, both ways round (2-fold by firm), AUC over all held-out scores."""
    if not data.height or labels.sum() < 10:
        return float("nan"), float("nan")
    firms = data["uscc"].to_numpy()
    unique = np.unique(firms)
    rng = stream(seed, "realism-split")
    first_half = set(unique[rng.random(len(unique)) < 0.5])
    fold = np.array([f in first_half for f in firms])
    gbm_scores = np.zeros(len(labels))
    log_scores = np.zeros(len(labels))
    for train in (fold, ~fold):
        test = ~train
        if labels[train].min() == labels[train].max():
            return float("nan"), float("nan")
        gbm = HistGradientBoostingClassifier(
            max_iter=120,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=80,
            l2_regularization=1.0,
            random_state=seed % 2**31,
        )
        gbm.fit(features[train], labels[train])
        gbm_scores[test] = gbm.predict_proba(features[test])[:, 1]
        medians = np.nanmedian(features[train], axis=0)
        filled = np.where(np.isnan(features), np.where(np.isnan(medians), 0.0, medians), features)
        mean, sd = filled[train].mean(axis=0), filled[train].std(axis=0) + 1e-9
        logistic = LogisticRegression(max_iter=1000)
        logistic.fit((filled[train] - mean) / sd, labels[train])
        log_scores[test] = logistic.predict_proba((filled[test] - mean) / sd)[:, 1]
    return float(roc_auc_score(labels, gbm_scores)), float(roc_auc_score(labels, log_scores))


def _lead_signal_shares(data: pl.DataFrame) -> dict[str, float]:
    """Among next-12-month defaulters vs the rest: how often each warning sign is already on."""
    if not data.height:
        return {}
    signs = {
        "tax_or_social_arrears": (pl.col("tax_arrears") > 0) | (pl.col("social_arrears") > 0),
        "electricity_drop_20pct": pl.col("electricity_change") < np.log(0.8),
        "bureau_queries_2plus": pl.col("bureau_queries_6m") >= 2,
        "court_defendant": pl.col("court_defendant_12m") > 0,
    }
    result = {}
    for name, sign in signs.items():
        flagged = data.select(sign.fill_null(False).alias("s"), "label")
        result[f"{name}_defaulters"] = round(
            float(flagged.filter(pl.col("label"))["s"].mean() or 0), 4
        )
        result[f"{name}_others"] = round(
            float(flagged.filter(~pl.col("label"))["s"].mean() or 0), 4
        )
    return result
