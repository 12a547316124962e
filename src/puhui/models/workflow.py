"""From the feature store to a registered, reported model (建模流程).

dataset (``datasets.build_dataset``) → time-ordered split → feature selection on development
rows (a quick IV screen of the whole catalog, then IV, correlation clusters and PSI stability)
→ fit (scorecard, LightGBM with the catalog's business directions as monotone constraints, or
EBM) → register with its provenance → validation report. The CLI and the demo are thin over it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from puhui.models.artifacts import ModelMetadata, load_evaluation
from puhui.models.datasets import TARGET_COLUMN, TIME_COLUMN, TrainingDataset
from puhui.models.errors import TrainingDataError
from puhui.models.registry import ModelRegistry, RegisteredVersion
from puhui.models.selection import Selection, quick_information_values, select_features
from puhui.models.training import DEVELOPMENT, TimeSplit, TrainingResult, train_model

ALGORITHMS = ("scorecard", "lightgbm", "ebm")


def catalog_descriptions(catalog: Any) -> dict[str, tuple[str, str]]:
    """``{feature: (zh, en)}`` from the feature catalog, for reason codes and reports."""
    return {f.name: (f.zh, f.en) for f in catalog.features}


def catalog_monotone(features: Sequence[str], catalog: Any) -> dict[str, int]:
    """Monotone constraints in the models' convention (+1 = larger is riskier).

    The catalog's ``direction`` is +1 when more is better for credit, so the constraint is its
    negative; features without a known direction stay unconstrained.
    """
    directions = {f.name: f.direction for f in catalog.features}
    return {name: -int(directions[name]) for name in features if directions.get(name, 0) != 0}


def split_by_share(
    time: pd.Series,
    events: pd.Series | None = None,
    validation_share: float = 0.15,
    out_of_time_share: float = 0.2,
) -> TimeSplit:
    """Whole periods, latest first, into out-of-time, then validation; the rest is development.

    The out-of-time periods hold at least ``out_of_time_share`` of the rows *and* of the events
    (``events``: the 0/1 target), validation at least ``validation_share`` of each. Shares
    rather than period counts, so a thin month never becomes the whole test, and a test
    without a single bad (AUC undefined) happens only when the data has almost none.
    """
    frame = pd.DataFrame(
        {
            "time": pd.Series(time).to_numpy(),
            "events": 0.0 if events is None else pd.Series(events).to_numpy(dtype=float),
        }
    )
    per_period = frame.groupby("time").agg(rows=("events", "size"), events=("events", "sum"))
    if len(per_period) < 3:
        raise TrainingDataError(
            f"the data spans {len(per_period)} as-of date(s); a development / validation / "
            "out-of-time split needs at least 3"
        )
    periods = list(per_period.index)
    # Share of rows and of events from each period to the last one.
    tail = per_period[::-1].cumsum()[::-1] / per_period.sum().replace(0, 1)

    def enough(start: int, stop: int | None, share: float) -> bool:
        after = tail.iloc[start] - (tail.iloc[stop] if stop is not None else 0)
        return bool((after >= share).all()) or (
            per_period["events"].sum() == 0 and after["rows"] >= share
        )

    # Index 0 … oot_start-1 stay before the test: at least one period of development and one of
    # validation.
    oot_start = max(
        (i for i in range(2, len(periods)) if enough(i, None, out_of_time_share)), default=2
    )
    validation_start = max(
        (i for i in range(1, oot_start) if enough(i, oot_start, validation_share)),
        default=oot_start - 1,
    )
    return TimeSplit(
        development_end=periods[validation_start - 1], validation_end=periods[oot_start - 1]
    )


def prescreen(
    frame: pd.DataFrame,
    y: np.ndarray,
    features: Sequence[str],
    *,
    min_fill: float = 0.05,
    min_iv: float = 0.02,
    top: int = 120,
) -> tuple[list[str], dict[str, str]]:
    """The ``top`` features by quick IV among those filled on ≥ ``min_fill`` of rows."""
    dropped: dict[str, str] = {}
    fill = frame[list(features)].notna().mean()
    filled = [f for f in features if fill[f] >= min_fill]
    for name in features:
        if fill[name] < min_fill:
            dropped[name] = f"filled on {fill[name]:.1%} of development rows < {min_fill:.0%}"
    iv = quick_information_values(frame[filled], y)
    kept = [str(n) for n, v in iv.items() if v >= min_iv][:top]
    for name, value in iv.items():
        if name not in kept:
            dropped[str(name)] = (
                f"quick IV {value:.4f} < {min_iv}"
                if value < min_iv
                else f"quick IV {value:.4f} outside the top {top}"
            )
    return kept, dropped


@dataclass
class PreparedTraining:
    """A dataset with its split and selected features, shared by every algorithm trained on it."""

    dataset: TrainingDataset
    data: pd.DataFrame
    split: TimeSplit
    features: list[str]
    selection: Selection
    screened_out: dict[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What goes into model metadata: the dataset, the split and the selection."""
        return {
            **self.dataset.summary(),
            "development_end": str(self.split.development_end),
            "validation_end": str(self.split.validation_end),
            "candidate_features": len(self.dataset.features),
            "screened_out": len(self.screened_out),
            "selected": list(self.features),
            "dropped_in_selection": dict(self.selection.dropped),
        }


def prepare(
    dataset: TrainingDataset,
    *,
    max_features: int = 30,
    screen_top: int = 120,
    validation_share: float = 0.15,
    out_of_time_share: float = 0.2,
) -> PreparedTraining:
    """Split by time and select features on development rows only."""
    data = dataset.frame.to_pandas()
    data[TIME_COLUMN] = pd.to_datetime(data[TIME_COLUMN])
    split = split_by_share(
        data[TIME_COLUMN], data[TARGET_COLUMN], validation_share, out_of_time_share
    )
    development = split.assign(data[TIME_COLUMN]) == DEVELOPMENT
    y = data.loc[development, TARGET_COLUMN].to_numpy(dtype=float)
    if y.sum() < 2:
        raise TrainingDataError(
            f"target {dataset.target.name}: the development periods (to "
            f"{pd.Timestamp(split.development_end):%Y-%m-%d}) hold {int(y.sum())} event(s); "
            "build snapshots for more months or simulate more firms"
        )
    rows = data.loc[development]
    screened, screened_out = prescreen(rows, y, dataset.features, top=screen_top)
    if not screened:
        raise TrainingDataError(
            f"target {dataset.target.name}: no feature passed the IV screen on development rows"
        )
    selection = select_features(rows[screened], y, rows[TIME_COLUMN])
    ranked = sorted(selection.kept, key=lambda n: -selection.iv.get(n, 0.0))
    features = ranked[:max_features]
    for name in ranked[max_features:]:
        selection.dropped[name] = f"IV rank beyond the {max_features} strongest"
    return PreparedTraining(dataset, data, split, features, selection, screened_out)


def fit(
    prepared: PreparedTraining,
    algorithm: str,
    catalog: Any,
    params: Mapping[str, Any] | None = None,
) -> TrainingResult:
    """Train one algorithm on the prepared split; GBM and EBM get the catalog's directions."""
    if algorithm not in ALGORITHMS:
        raise TrainingDataError(
            f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    chosen = dict(params or {})
    if algorithm in {"lightgbm", "ebm"} and "monotone" not in chosen:
        chosen["monotone"] = catalog_monotone(prepared.features, catalog)
    if algorithm == "lightgbm":
        # Small trees and large leaves: panel rows repeat the same firm month after month, so
        # deep trees memorise firms (development AUC 1.0) without ranking the next months better.
        for key, value in {
            "num_leaves": 7,
            "min_child_samples": 100,
            "n_estimators": 200,
            "reg_lambda": 5.0,
        }.items():
            chosen.setdefault(key, value)
    if algorithm == "ebm":
        chosen.setdefault("interactions", 5)
        chosen.setdefault("max_bins", 64)
    result = train_model(
        prepared.data,
        TARGET_COLUMN,
        TIME_COLUMN,
        kind=algorithm,
        params=chosen,
        features=prepared.features,
        split=prepared.split,
    )
    result.selection = prepared.selection
    return result


def refit_on_all_rows(prepared: PreparedTraining, result: TrainingResult) -> TrainingResult:
    """The result with its model refit, same settings, on every row: development, validation
    and out-of-time.

    The split has done its job (the metrics and evaluation rows stay those of the model fitted
    on development months, so they remain an honest out-of-time measure); the model that serves
    should also learn from the latest months, which look most like the ones it will score."""
    import inspect
    from dataclasses import replace as replace_result

    fitted = result.model
    settings = {
        name: getattr(fitted, name)
        for name in inspect.signature(type(fitted)).parameters
        if hasattr(fitted, name)
    }
    data = prepared.data
    model = type(fitted)(**settings)
    model.fit(data[result.features], data[TARGET_COLUMN].to_numpy())  # type: ignore[attr-defined]
    note = (
        f"served model refit on all {len(data):,} rows (development, validation and "
        "out-of-time); metrics are those of the development-only fit"
    )
    return replace_result(result, model=model, notes=[*result.notes, note])


def register(
    registry: ModelRegistry,
    name: str,
    prepared: PreparedTraining,
    result: TrainingResult,
    catalog: Any,
    *,
    trained_by: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RegisteredVersion:
    """Index the fitted model as a new candidate version with its provenance."""
    descriptions = catalog_descriptions(catalog)
    training = prepared.provenance()
    if result.notes:  # e.g. a refit on every row: said beside the dataset's own notes
        training["notes"] = [*training.get("notes", []), *result.notes]
    metadata = ModelMetadata(
        name=name,
        version="",
        kind=result.model.kind,
        features=result.features,
        target=prepared.dataset.target.name,
        trained_by=trained_by,
        trained_at=clock(),
        time_column=TIME_COLUMN,
        data_window_start=result.data_window[0],
        data_window_end=result.data_window[1],
        metrics=result.metrics,
        descriptions={f: descriptions[f] for f in result.features if f in descriptions},
        training=training,
    )
    return registry.register(result.model, metadata, result.evaluation)


def report_path(reports_dir: Path, name: str, version: str) -> Path:
    """Where a version's HTML report goes by default: ``<reports_dir>/<name>-v<version>.html``."""
    return reports_dir / f"{name}-v{version}.html"


def write_report(
    registry: ModelRegistry, name: str, version: str, html_path: Path
) -> tuple[Path, Path]:
    """The self-contained HTML report of one registered version and its numbers beside it
    (same name, ``.json``)."""
    from puhui.models.report import validation_numbers
    from puhui.models.report_html import render_report

    entry = registry.get(name, version)
    model, metadata = registry.load(name, version)
    numbers = validation_numbers(model, metadata, load_evaluation(entry.artifact_dir))
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_report(numbers), encoding="utf-8")
    json_path = html_path.with_suffix(".json")
    json_path.write_text(
        json.dumps(numbers, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return html_path, json_path
