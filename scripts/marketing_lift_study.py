"""Lift study for the take-up model (营销响应模型): train candidates on early snapshots, list the
firms as of a later date the models never saw, and measure top-decile conversion on the
synthetic province against random, themed lists and the ceiling of ranking by true demand.

Evaluation only: ``truth_enterprise`` is read to simulate contacts and the ceiling, never as a
feature or a label. Usage (a demo data folder with monthly snapshots built):

    .venv/bin/python scripts/marketing_lift_study.py --data-dir puhui-data \
        --train-from 2024-07-01 --train-to 2026-01-01 --as-of 2026-07-01 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from puhui.actions.marketing.build import needed_columns, score_universe
from puhui.actions.marketing.evaluation import lift_study
from puhui.actions.marketing.propensity import (
    fit_propensity,
    propensity_dataset,
    screened_rows,
)
from puhui.actions.marketing.scoring import LoadedModel
from puhui.actions.marketing.universe import branch_network, firm_locations, load_universe
from puhui.cli.marketing import open_marketing
from puhui.features.catalog import load_feature_catalog
from puhui.features.store import available_dates
from puhui.settings import Settings


def _months(features_root: Path, first: date, last: date) -> list[date]:
    return [d for d in available_dates(features_root) if first <= d <= last]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--train-from", type=date.fromisoformat, default=date(2024, 7, 1))
    parser.add_argument("--train-to", type=date.fromisoformat, default=date(2026, 1, 1))
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 7, 1))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--variants",
        default="scorecard/catalog_without_demand/applied,scorecard/catalog/applied,"
        "lightgbm/demand/applied,lightgbm/demand/sought",
        help="comma-separated algorithm/feature set/event",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    settings = Settings(data_dir=args.data_dir)
    catalog = load_feature_catalog()
    results: dict[str, Any] = {"as_of": str(args.as_of), "variants": {}}
    with open_marketing(settings) as service:
        pd_model, _ = service.models()
        connection = service.lake.connect()
        dates = _months(service.features_root, args.train_from, args.train_to)
        results["training_snapshots"] = [str(d) for d in dates]
        datasets: dict[str, Any] = {}
        truth = (
            service.lake.scan("truth_enterprise")
            .select("uscc", "credit_demand", "default_month")
            .collect()
        )
        locations = firm_locations(service.lake, branch_network(service.lake))
        for variant in args.variants.split(","):
            started = time.perf_counter()
            algorithm, feature_set, event, *rows = variant.split("/")
            if event not in datasets:
                datasets[event] = propensity_dataset(
                    connection, service.features_root, dates=dates, event=event
                )
                results[f"training_rows_{event}"] = datasets[event].summary()
            dataset = datasets[event]
            if rows == ["screened"]:
                dataset = screened_rows(dataset, service.config)
            fitted = fit_propensity(dataset, catalog, algorithm=algorithm, feature_set=feature_set)
            takeup = LoadedModel("propensity", variant, fitted.model, tuple(fitted.features))
            columns = needed_columns(service.config, service.catalog, pd_model, takeup)
            universe = load_universe(service.features_root, args.as_of, columns, locations)
            frame = score_universe(
                universe, service.config, service.catalog, args.as_of, pd_model, takeup
            )
            study = lift_study(frame, truth, args.as_of, seeds=args.seeds)
            study["features"] = list(fitted.features)
            study["out_of_time"] = fitted.metrics.get("out_of_time", {})
            study["seconds"] = round(time.perf_counter() - started, 1)
            results["variants"][variant] = study
            print(
                f"{variant:>12}: top-decile lift expected {study['expected']['lift']:.2f} "
                f"(themed {study['expected']['lift_over_themes']:.2f}), simulated mean "
                f"{study['simulated_mean_lift']:.2f} ± {study['simulated_sd_lift']:.2f}, "
                f"seed 0 {study['seed0']['lift']:.2f}; ceiling {study['ceiling']['lift']:.2f}"
                f"; OOT AUC {study['out_of_time'].get('auc', float('nan')):.3f}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
