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

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from puhui.data.simulate.realism_features import (
    LEAD_FEATURES,
    Scan,
    lead_features,
    month_index,
    sampled,
    tame,
)
from puhui.data.simulate.timeline import stream

OBSERVE_FROM = 8  # months of history a firm needs before it is scored
OBSERVE_EVERY = 3  # months between observation points
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
    truth = scan("truth_enterprise").select("uscc", month_index("default_month").alias("default"))
    loans = scan("bank_loan_monthly").select(
        "uscc", month_index("month").alias("m"), "status", "overdue_days"
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


def measure(scan: Scan, sample: list[str], months: int, start: int, seed: int) -> RealismReport:
    """Compute the realism report from written tables (``scan(name)`` gives a LazyFrame)."""
    scored = sampled(scan, sample)
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
        tame(data.select(LEAD_FEATURES).to_numpy().astype(float))
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


def _model_aucs(
    data: pl.DataFrame, labels: np.ndarray, features: np.ndarray, seed: int
) -> tuple[float, float]:
    """Gradient boosting and logistic regression, each trained on one half of the firms and
    scored on the other, both ways round (2-fold by firm), AUC over all held-out scores."""
    if not data.height or labels.sum() < 10:
        return float("nan"), float("nan")
    firm = data["uscc"].rank("dense").to_numpy().astype(np.int64) - 1
    fold = (stream(seed, "realism-split").random(int(firm.max()) + 1) < 0.5)[firm]
    if any(labels[half].min() == labels[half].max() for half in (fold, ~fold)):
        return float("nan"), float("nan")
    gbm_scores = np.zeros(len(labels))
    log_scores = np.zeros(len(labels))
    # One thread: OpenMP spin-waiting collapses on a busy machine, and results stay bit-stable.
    with threadpool_limits(limits=1):
        for train in (fold, ~fold):
            test = ~train
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
            medians = np.where(np.isnan(medians), 0.0, medians)
            filled = np.where(np.isnan(features), medians, features)
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
