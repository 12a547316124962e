"""`puhui alarm learn`: EW-PD models, signal weights from past defaults, hold-out figures.

1. Monthly feature snapshots for every month scored (built when missing).
2. EW-PD 3/6/12m trained on snapshots whose outcomes end by ``train_end`` and registered
   (algorithm and feature budget: ``policy.yaml`` ``ew_pd``).
3. A history of scans (every ``step_days``) up to ``train_end``: lifts, weights, lead times
   and combinations from the defaults observed by then (``weights.json``, ``learning.json``).
4. Optionally the hold-out: scans from ``train_end`` to ``holdout_end`` graded with what was
   learned, against the defaults that followed (``evaluation.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from puhui.actions.alarm.ewpd import EarlyWarningPD, TrainedPD, train_ew_pd
from puhui.actions.alarm.history import (
    Evaluation,
    default_dates,
    evaluate,
    learn_weights,
    levels_over_time,
    scan_dates,
    scan_history,
    write_learning,
)
from puhui.actions.alarm.runner import DuckDBScanEngine
from puhui.actions.alarm.wiring import alarm_dir, feature_lags
from puhui.data.lake import Lake
from puhui.decisions.alarm.learning import LearnedSignals
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library
from puhui.features.timing import add_months, month_start
from puhui.settings import Settings


@dataclass
class LearnResult:
    trained: list[TrainedPD]
    learned: LearnedSignals
    evaluation: Evaluation | None
    snapshots_built: int
    notes: list[str] = field(default_factory=list)


def ensure_snapshots(settings: Settings, months: list[date]) -> int:
    from puhui.features.catalog import load_feature_catalog
    from puhui.features.engines import DuckDBEngine
    from puhui.features.store import available_dates, build_snapshots

    root = Path(settings.data_dir) / "features"
    todo = sorted(set(months) - set(available_dates(root)))
    if todo:
        build_snapshots(Lake(settings.lake_dir), load_feature_catalog(), todo, root, DuckDBEngine())
    return len(todo)


def months_between(first: date, last: date) -> list[date]:
    out, day = [], month_start(first)
    while day <= last:
        out.append(day)
        day = add_months(day, 1)
    return out


def learn_and_evaluate(
    settings: Settings,
    *,
    train_end: date,
    history_from: date,
    holdout_end: date | None,
    step_days: int = 14,
    train_snapshots_from: date | None = None,
    build_snapshots: bool = True,
    train_models: bool = True,
) -> LearnResult:
    from puhui.cli.model import open_registry

    lake = Lake(settings.lake_dir)
    library, policy, lags = load_signal_library(), load_policy(), feature_lags()
    features_root = Path(settings.data_dir) / "features"
    folder = alarm_dir(settings)
    built = 0
    if build_snapshots:
        first = train_snapshots_from or month_start(history_from)
        built = ensure_snapshots(settings, months_between(first, holdout_end or train_end))
    engine = DuckDBScanEngine()
    with open_registry(settings) as registry:
        trained = (
            train_ew_pd(
                lake.connect(), features_root, registry, train_end=train_end, config=policy.ew_pd
            )
            if train_models
            else []
        )
        ew_pd = EarlyWarningPD(registry, features_root)
        defaults = default_dates(lake.connect())
        history = scan_history(
            lake,
            library,
            lags,
            scan_dates(history_from, train_end, step_days),
            engine,
            folder / "cache",
            ew_pd,
        )
        learned, weights = learn_weights(history, defaults, library, policy, outcome_end=train_end)
        meta: dict[str, Any] = {
            "train_end": train_end.isoformat(),
            "history_from": history_from.isoformat(),
            "step_days": step_days,
            "ew_pd": [t.as_dict() for t in trained],
        }
        write_learning(folder, learned, weights, meta)
        evaluation = None
        if holdout_end is not None:
            start = train_end + timedelta(days=1)
            holdout = scan_history(
                lake,
                library,
                lags,
                scan_dates(start, holdout_end, 7),
                engine,
                folder / "cache",
                ew_pd,
            )
            levels = levels_over_time(holdout, library, policy, weights)
            evaluation = evaluate(levels, holdout.borrowers, defaults, start=start, end=holdout_end)
            (folder / "evaluation.json").write_text(
                json.dumps(evaluation.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
            )
    engine.close()
    return LearnResult(trained, learned, evaluation, built)


def learn_weights_quickly(
    settings: Settings,
    engine: DuckDBScanEngine,
    *,
    history_from: date,
    train_end: date,
    step_days: int = 30,
) -> LearnedSignals:
    """Weights, lead times and cut-offs from a coarse history, without models or snapshots
    (the demo's shortcut; ``learn_and_evaluate`` is the full job)."""
    lake = Lake(settings.lake_dir)
    library, policy, lags = load_signal_library(), load_policy(), feature_lags()
    folder = alarm_dir(settings)
    defaults = default_dates(lake.connect())
    history = scan_history(
        lake,
        library,
        lags,
        scan_dates(history_from, train_end, step_days),
        engine,
        folder / "cache",
    )
    learned, weights = learn_weights(history, defaults, library, policy, outcome_end=train_end)
    write_learning(
        folder,
        learned,
        weights,
        {
            "train_end": train_end.isoformat(),
            "history_from": history_from.isoformat(),
            "step_days": step_days,
            "ew_pd": [],
            "quick": True,
        },
    )
    return learned
