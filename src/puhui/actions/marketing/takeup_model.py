"""Which features the take-up model learns from and how it is fitted (响应模型特征与拟合).

Three candidate sets: ``catalog`` (the models' IV / PSI selection over the whole catalog),
``catalog_without_demand`` (the same without the ``demand`` family, the earlier default) and
``demand``, a short curated list of the traces credit demand leaves in observable data. The
curated set keeps every feature (see ``prepare_curated``) and, with LightGBM, takes demand's
directions as monotone constraints instead of the catalog's credit-risk ones. Training can be
limited to the rows the lists would score (``screened_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from puhui.models.datasets import TARGET_COLUMN, TrainingDataset
from puhui.models.errors import TrainingDataError

# The curated take-up features (``feature_set="demand"``): the traces credit demand leaves in
# observable data (the catalog's ``demand`` family) and the firm's age. Growth net of the firm's
# condition carries most of the signal; the quarterly, margin-adjusted and precision-shrunk
# estimate reads it best. Size, revenue level and distress signals were tried as well and ranked
# the lists worse on later months: with a ~5 % take-up label, more features give the model more
# room to fit who applies for reasons other than demand (docs/MARKETING.md).
DEMAND_FEATURES = (
    "demand_growth_estimate_36m",
    "demand_underlying_growth_36m",
    "demand_manufacturing",
    "reg_age_months",
    "demand_loan_queries_24m",
    "demand_applications_24m",
)
DEMAND_FEATURE_SET = "demand"
FEATURE_SETS = ("catalog", "catalog_without_demand", DEMAND_FEATURE_SET)
DEFAULT_FEATURE_SET = DEMAND_FEATURE_SET
DEFAULT_ALGORITHM = "lightgbm"
# Model convention: +1 = a larger value makes the event (taking up) likelier.
DEMAND_MONOTONE = {
    "demand_growth_estimate_36m": 1,
    "demand_underlying_growth_36m": 1,
    "demand_manufacturing": 1,
    "demand_loan_queries_24m": 1,
    "demand_lenders_queried_24m": 1,
    "demand_applications_24m": 1,
}
# LightGBM on the curated set: stumps (one split per tree) make an additive model, as demand's
# causes are additive on the log-odds scale; a ~5 % label learnt by deeper trees spends itself on
# interactions that do not carry to later months (docs/MARKETING.md). Many firms per leaf, and
# more, smaller steps, since each tree says little.
CURATED_LIGHTGBM = {
    "num_leaves": 2,
    "n_estimators": 300,
    "learning_rate": 0.05,
    "min_child_samples": 500,
}


def screened_rows(dataset: TrainingDataset, config: Any) -> TrainingDataset:
    """Only the rows the lists would score: prospects that pass the admission pre-screen.

    Distress drives applications too (a struggling firm applies more, and is turned away); the
    pre-screen removes most such firms from the lists, so training on the screened population
    teaches the model what moves the firms it will actually rank."""
    from puhui.decisions.marketing.lists import PASSED_COLUMN, PROSPECT_COLUMN, classify

    frame = dataset.frame.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(n)
        for n in config.features
        if n not in dataset.frame.columns
    )
    marked = classify(frame, config).collect()
    kept = marked.filter(pl.col(PASSED_COLUMN) & pl.col(PROSPECT_COLUMN)).select(
        dataset.frame.columns
    )
    notes = [
        *dataset.notes,
        f"pre-screened rows only: {kept.height:,} of {dataset.frame.height:,} pass the "
        "admission pre-screen",
    ]
    return replace(dataset, frame=kept, notes=notes)


def restrict_features(dataset: TrainingDataset, feature_set: str) -> TrainingDataset:
    """The dataset with only the candidate features of ``feature_set`` (see FEATURE_SETS)."""
    if feature_set not in FEATURE_SETS:
        raise TrainingDataError(
            f"feature set {feature_set!r} is not one of {', '.join(FEATURE_SETS)}"
        )
    if feature_set == "catalog":
        return dataset
    if feature_set == DEMAND_FEATURE_SET:
        names = [n for n in DEMAND_FEATURES if n in dataset.features]
        missing = [n for n in DEMAND_FEATURES if n.startswith("demand_") and n not in names]
        if missing:
            raise TrainingDataError(
                f"the snapshots lack {', '.join(missing)}; rebuild them with "
                "`puhui features snapshots --from YYYY-MM --to YYYY-MM` (the catalog's demand "
                "family is newer than they are)"
            )
    else:
        names = [n for n in dataset.features if not n.startswith("demand_")]
    return replace(dataset, features=names)


@dataclass(frozen=True)
class FittedPropensity:
    """A trained take-up model before registration: what serving and the study need."""

    prepared: Any
    result: Any
    algorithm: str
    feature_set: str

    @property
    def model(self) -> Any:
        return self.result.model

    @property
    def features(self) -> list[str]:
        return list(self.result.features)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.result.metrics)


def prepare_curated(dataset: TrainingDataset) -> Any:
    """The models' time-ordered split with every curated feature kept.

    The catalog's selection screens (IV ≥ 0.02, PSI between development halves) suit a credit
    target; here they would drop the growth trends, whose spread narrows as the lake's
    history lengthens (a trend over 12 months early on, 36 later) and whose IV on a ~5 % take-up
    label is small though they carry most of the demand signal. IV and PSI are still recorded
    for the report."""
    import pandas as pd

    from puhui.models.datasets import TIME_COLUMN
    from puhui.models.selection import Selection, information_values, stability
    from puhui.models.training import DEVELOPMENT
    from puhui.models.workflow import PreparedTraining, split_by_share

    data = dataset.frame.to_pandas()
    data[TIME_COLUMN] = pd.to_datetime(data[TIME_COLUMN])
    split = split_by_share(data[TIME_COLUMN], data[TARGET_COLUMN])
    development = data.loc[split.assign(data[TIME_COLUMN]) == DEVELOPMENT]
    if development[TARGET_COLUMN].sum() < 2:
        raise TrainingDataError(
            "take-up: the development periods hold fewer than 2 events; build snapshots for "
            "more months"
        )
    features = list(dataset.features)
    rows = development[features]
    half = development[TIME_COLUMN] < development[TIME_COLUMN].sort_values().iloc[len(rows) // 2]
    selection = Selection(
        kept=features,
        iv={
            str(k): float(v)
            for k, v in information_values(rows, development[TARGET_COLUMN]).items()
        },
        psi={str(k): float(v) for k, v in stability(rows[half], rows[~half]).items()},
    )
    return PreparedTraining(dataset, data, split, features, selection)


def fit_propensity(
    dataset: TrainingDataset,
    catalog: Any,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    feature_set: str = DEFAULT_FEATURE_SET,
    max_features: int = 15,
) -> FittedPropensity:
    """Time-ordered development / validation / out-of-time split, then one algorithm fitted
    on the development rows. The catalog sets go through the models' selection (on
    development rows only, ``max_features`` kept); the curated ``demand`` set keeps all its
    features. LightGBM gets demand's directions as monotone constraints on the curated set and
    none on the catalog sets: the catalog's directions are credit-risk ones, not take-up's.
    LightGBM on the curated set is additive (``CURATED_LIGHTGBM``) and, once measured, refit on
    every row (``workflow.refit_on_all_rows``)."""
    from puhui.models import workflow

    candidates = restrict_features(dataset, feature_set)
    curated = feature_set == DEMAND_FEATURE_SET
    prepared = (
        prepare_curated(candidates)
        if curated
        else workflow.prepare(candidates, max_features=max_features)
    )
    params: dict[str, Any] = {}
    if algorithm == "lightgbm":
        params["monotone"] = (
            {n: d for n, d in DEMAND_MONOTONE.items() if n in prepared.features} if curated else {}
        )
        if curated:
            params.update(CURATED_LIGHTGBM)
    result = workflow.fit(prepared, algorithm, catalog, params=params)
    if algorithm == "lightgbm" and curated:
        result = workflow.refit_on_all_rows(prepared, result)
    return FittedPropensity(prepared, result, algorithm, feature_set)
