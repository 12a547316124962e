"""The early-warning PD (预警PD): behaviour models for 3, 6 and 12 months, trained and registered
with the model machinery (point-in-time datasets, time-ordered split, an out-of-time test on
months the model never saw), and scored from the feature snapshot as of the scan month.

Training uses only snapshots whose outcome window ends by ``train_end``, so an evaluation on
later months is honest. The algorithm (scorecard, LightGBM, EBM) and the feature budget are
the policy's (``policy.yaml`` ``ew_pd``). A borrower without a snapshot row, or a horizon
without a champion, has a missing PD (null), never a PD of zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from puhui.decisions.alarm.policy import EarlyWarningPDPolicy
from puhui.features.store import available_dates, load_features
from puhui.features.timing import add_months, month_start
from puhui.models.errors import RegistryError, TrainingDataError
from puhui.models.registry import ModelRegistry

HORIZONS = (3, 6, 12)
MODEL_NAMES = {h: f"ew_pd_{h}m" for h in HORIZONS}  # the champions the scan reads
PD_COLUMNS = {h: f"pd_{h}m" for h in HORIZONS}


@dataclass(frozen=True)
class TrainedPD:
    horizon: int
    name: str
    version: str
    rows: int
    events: int
    auc_out_of_time: float | None
    snapshots: tuple[date, ...]
    algorithm: str = "scorecard"
    features: int = 0
    outcomes_end: date | None = None  # the latest outcome window's end (exclusive)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO text), for ``weights.json`` and the evaluation files."""
        return asdict(self) | {
            "snapshots": [d.isoformat() for d in self.snapshots],
            "outcomes_end": self.outcomes_end.isoformat() if self.outcomes_end else None,
        }


class EarlyWarningPDLeak(TrainingDataError):
    """A training row's outcome window reaches past the training end (a leak)."""


def model_names(prefix: str = "ew_pd") -> dict[int, str]:
    """Registry names of the EW-PD per horizon (``ew_pd_12m``; another prefix for challengers
    evaluated side by side, e.g. ``ew_pd_lgbm_12m``)."""
    return {h: f"{prefix}_{h}m" for h in HORIZONS}


def training_dates(features_root: Path, horizon: int, train_end: date) -> list[date]:
    """Snapshots whose whole outcome window (h months from the snapshot) ends by ``train_end``."""
    return [d for d in available_dates(features_root) if add_months(d, horizon) <= train_end]


def train_ew_pd(
    connection: Any,
    features_root: Path,
    registry: ModelRegistry,
    *,
    train_end: date,
    config: EarlyWarningPDPolicy | None = None,
    horizons: Sequence[int] | None = None,
    name_prefix: str = "ew_pd",
    trained_by: str = "alarm",
    build: Callable[..., Any] | None = None,
    defaults: pl.DataFrame | None = None,
) -> list[TrainedPD]:
    """Train, register and promote one champion per horizon, with the policy's algorithm and
    feature budget (``policy.yaml`` ``ew_pd``), on every snapshot whose outcome window ends by
    ``train_end``; horizons without enough snapshots (three as-of dates at least) are skipped
    and reported by their absence. ``build`` is ``datasets.build_dataset`` (a test hands in a
    fake); a row whose outcome window ends after ``train_end`` stops the training."""
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.datasets import TIME_COLUMN, build_dataset
    from puhui.models.training import OUT_OF_TIME

    config = config or EarlyWarningPDPolicy()
    build = build or build_dataset
    names = model_names(name_prefix)
    catalog = load_feature_catalog()
    out = []
    for horizon in horizons or config.horizons:
        dates = training_dates(features_root, horizon, train_end)
        if len(dates) < 3:
            continue
        dataset = without_features(
            build(connection, features_root, f"behaviour_pd_{horizon}m", dates=dates),
            config.exclude_features,
        )
        if horizon == 12 and config.lead_days > 0:
            if defaults is None:
                from puhui.actions.alarm.history import default_dates

                defaults = default_dates(connection)
            dataset = lead_shifted(dataset, defaults, lead_days=config.lead_days)
        outcome_ends = dataset.frame["outcome_to"]
        latest = outcome_ends.max() if dataset.frame.height else None
        if latest is not None and latest > train_end:
            raise EarlyWarningPDLeak(
                f"ew_pd {horizon}m: rows as of "
                f"{dataset.frame.filter(pl.col('outcome_to') > train_end)[TIME_COLUMN].min()} "
                f"have outcomes to {latest}, after the training end {train_end}"
            )
        prepared = prepare(dataset, config)
        params: dict[str, Any] = dict(config.params)
        if not config.monotone:
            params["monotone"] = {}
        result = workflow.fit(prepared, config.algorithm, catalog, params=params)
        if config.refit:
            result = workflow.refit_on_all_rows(prepared, result)
        name = names[horizon]
        entry = workflow.register(registry, name, prepared, result, catalog, trained_by=trained_by)
        registry.promote(name, entry.version, actor=trained_by, reason="预警PD early-warning PD")
        summary = dataset.summary()
        auc = result.metrics.get(OUT_OF_TIME, {}).get("auc")
        out.append(
            TrainedPD(
                horizon,
                name,
                entry.version,
                summary["count"],
                summary["events"],
                None if auc is None else float(auc),
                tuple(dates),
                config.algorithm,
                len(result.features),
                latest,
            )
        )
    return out


def lead_shifted(
    dataset: Any, defaults: pl.DataFrame, *, lead_days: int, horizon_days: int = 365
) -> Any:
    """The 12-month rows relabelled for early warning: 1 when the firm's first default (90+ days
    overdue at the bank, ``history.default_dates``) falls ``lead_days`` … ``horizon_days`` after
    the snapshot; rows whose default comes sooner are left out, since they teach the signals of
    a default already under way, not those that come early enough to act on. The outcome window
    stays inside the 12 months, so it still ends by the training end."""
    days = (pl.col("default_date") - pl.col("as_of")).dt.total_days()
    frame = (
        dataset.frame.join(defaults.select("uscc", "default_date"), on="uscc", how="left")
        .filter(pl.col("default_date").is_null() | (days < 0) | (days >= lead_days))
        .with_columns(
            (pl.col("default_date").is_not_null() & days.is_between(lead_days, horizon_days))
            .cast(pl.Int8)
            .alias("target"),
            pl.min_horizontal(
                pl.col("outcome_to"), pl.col("as_of").dt.offset_by(f"{horizon_days}d")
            ).alias("outcome_to"),
        )
        .drop("default_date")
    )
    notes = [
        *dataset.notes,
        f"early-warning target: first default {lead_days}–{horizon_days} days after the "
        f"snapshot; rows closer to their default left out",
    ]
    return replace(dataset, frame=frame, notes=notes)


def without_features(dataset: Any, excluded: Sequence[str]) -> Any:
    """The dataset without the ``excluded`` features (``ew_pd.exclude_features``); a name the
    dataset does not have is an error, so a typo cannot leave a leaking feature in."""
    if not excluded:
        return dataset
    unknown = sorted(set(excluded) - set(dataset.features))
    if unknown:
        raise TrainingDataError(
            f"policy.yaml ew_pd.exclude_features names unknown feature(s) {', '.join(unknown)}"
        )
    kept = [f for f in dataset.features if f not in set(excluded)]
    return replace(dataset, frame=dataset.frame.drop(list(excluded)), features=kept)


def prepare(dataset: Any, config: EarlyWarningPDPolicy) -> Any:
    """The time-ordered split and the features by the policy's ``selection``."""
    from puhui.models import workflow

    if config.selection == "screen":
        return prepare_screened(dataset, max_features=config.max_features)
    if config.selection == "all":
        return prepare_screened(
            dataset, max_features=len(dataset.features), max_psi=float("inf"), min_iv=0.0
        )
    return workflow.prepare(dataset, max_features=config.max_features, screen_top=config.screen_top)


def prepare_screened(
    dataset: Any, *, max_features: int, max_psi: float = 0.25, min_iv: float = 0.02
) -> Any:
    """The workflow's time-ordered split, and the ``max_features`` strongest features by quick
    IV on the development rows that are stable between the development halves (PSI); unlike
    ``workflow.prepare`` correlated features stay, since trees split on them without harm and
    the correlation clusters leave a 12-month model on a few months of rows with ten features.
    """
    import pandas as pd

    from puhui.models import workflow
    from puhui.models.datasets import TARGET_COLUMN, TIME_COLUMN
    from puhui.models.selection import Selection, stability
    from puhui.models.training import DEVELOPMENT

    data = dataset.frame.to_pandas()
    data[TIME_COLUMN] = pd.to_datetime(data[TIME_COLUMN])
    split = workflow.split_by_share(data[TIME_COLUMN], data[TARGET_COLUMN])
    development = split.assign(data[TIME_COLUMN]) == DEVELOPMENT
    rows = data.loc[development]
    y = rows[TARGET_COLUMN].to_numpy(dtype=float)
    if y.sum() < 2:
        raise TrainingDataError(
            f"target {dataset.target.name}: the development periods hold {int(y.sum())} "
            "event(s); build snapshots for more months or simulate more firms"
        )
    ranked, screened_out = workflow.prescreen(
        rows, y, dataset.features, min_iv=min_iv, top=len(dataset.features)
    )
    dates = rows[TIME_COLUMN]
    cut = dates.sort_values().iloc[len(dates) // 2]
    shifts = stability(rows.loc[dates < cut, ranked], rows.loc[dates >= cut, ranked])
    dropped = dict(screened_out)
    kept: list[str] = []
    for name in ranked:
        if (dates < cut).any() and float(shifts.get(name, 0.0)) > max_psi:
            dropped[name] = f"PSI {float(shifts[name]):.3f} > {max_psi} between development halves"
        elif len(kept) < max_features:
            kept.append(name)
        else:
            dropped[name] = f"quick-IV rank beyond the {max_features} strongest stable ones"
    if not kept:
        raise TrainingDataError(
            f"target {dataset.target.name}: no stable feature passed the IV screen"
        )
    selection = Selection(kept=kept, dropped=dropped, psi=shifts.to_dict())
    return workflow.PreparedTraining(dataset, data, split, kept, selection, screened_out)


class EarlyWarningPD:
    """Scores borrowers with the champions ``ew_pd_{3,6,12}m`` (or another ``name_prefix``)
    from the month's snapshot."""

    def __init__(
        self,
        registry: ModelRegistry | None,
        features_root: Path,
        name_prefix: str = "ew_pd",
        chunk_rows: int = 25_000,
    ) -> None:
        self.features_root = features_root
        self.chunk_rows = chunk_rows
        self.names = model_names(name_prefix)
        self.models: dict[int, tuple[Any, Any]] = {}
        for horizon, name in self.names.items():
            if registry is None:
                continue
            try:
                self.models[horizon] = registry.load_champion(name)
            except RegistryError:
                continue

    def snapshot_date(self, as_of: date) -> date:
        return month_start(as_of)

    def score(self, as_of: date, usccs: Sequence[str]) -> tuple[pl.DataFrame, list[str]]:
        """(uscc, pd_3m, pd_6m, pd_12m) and what was missing (no model, no snapshot)."""
        frame = pl.DataFrame({"uscc": list(usccs)}, schema={"uscc": pl.String})
        missing = [f"model {self.names[h]}" for h in HORIZONS if h not in self.models]
        day = self.snapshot_date(as_of)
        if not self.models or day not in available_dates(self.features_root):
            if self.models:
                missing.append(f"feature snapshot {day}")
            return frame.with_columns(
                [pl.lit(None, dtype=pl.Float64).alias(c) for c in PD_COLUMNS.values()]
            ), missing
        needed = sorted({f for model, meta in self.models.values() for f in meta.features})
        features = load_features(self.features_root, day, columns=needed, usccs=list(usccs))
        parts: dict[int, list[pl.DataFrame]] = {h: [] for h in self.models}
        # a chunk of borrowers at a time: the models read ~1,200 columns, and a pandas copy of
        # all 200k borrowers at once would double the scan's memory
        for offset in range(0, features.height, self.chunk_rows):
            chunk = features.slice(offset, self.chunk_rows)
            data = chunk.to_pandas()
            for horizon, (model, meta) in self.models.items():
                values = model.predict_proba(data[list(meta.features)])[:, 1]
                parts[horizon].append(
                    pl.DataFrame({"uscc": chunk["uscc"], PD_COLUMNS[horizon]: values})
                )
        for horizon, column in PD_COLUMNS.items():
            scored = (
                pl.concat(parts[horizon])
                if parts.get(horizon)
                else pl.DataFrame(schema={"uscc": pl.String, column: pl.Float64})
            )
            frame = frame.join(scored, on="uscc", how="left")
        return frame, missing
