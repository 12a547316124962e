"""回放 · the lake's applications as the sentinel saw them: one feature row per application,
built in time order by the same code real time uses, then joined to the month before's panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import polars as pl

from puhui.actions.sentinel.index import SentinelIndex
from puhui.decisions.sentinel.blacklist import BlacklistHit
from puhui.decisions.sentinel.compile import to_polars, to_python
from puhui.decisions.sentinel.expressions import parse
from puhui.decisions.sentinel.features import FEATURES

_POLARS = {"number": pl.Float64, "string": pl.Utf8, "bool": pl.Boolean}
# Derived features are expressions of the language too: one definition for both paths.
DERIVED = {"amount_to_revenue": "requested_amount / declared_revenue_12m"}
_DERIVED_TREES = {name: parse(text) for name, text in DERIVED.items()}
_DERIVED_PYTHON = {name: to_python(tree) for name, tree in _DERIVED_TREES.items()}
SCHEMA = {f.name: _POLARS[f.type] for f in FEATURES}


def feature_month(day: date) -> date:
    """The panel month an application reads: the month before the one it arrived in."""
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def add_derived(row: dict[str, Any]) -> None:
    for name, function in _DERIVED_PYTHON.items():
        row[name] = function(row)


def replay_features(
    index: SentinelIndex,
) -> tuple[pl.DataFrame, dict[str, list[BlacklistHit]]]:
    """Every lake application's features, recording each into the index after it is read."""
    rows: list[dict[str, Any]] = []
    hits_by_application: dict[str, list[BlacklistHit]] = {}
    meta: list[tuple[str, str, Any, date]] = []
    for source in index.lake_applications.iter_rows(named=True):
        past = index.past(source)
        row, hits = index.application_features(past, source.get("applicant_id"))
        index.record(past, hits)
        rows.append(row)
        if hits:
            hits_by_application[source["application_id"]] = hits
        local_day = (source["applied_at"] + timedelta(hours=8)).date()
        meta.append(
            (
                source["application_id"],
                source["uscc"],
                source["applied_at"],
                feature_month(local_day),
            )
        )
    app_columns = [c for c in SCHEMA if any(c in r for r in rows[:1])] if rows else []
    frame = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in app_columns},
        schema={c: SCHEMA[c] for c in app_columns},
    )
    frame = pl.DataFrame(
        {
            "application_id": [m[0] for m in meta],
            "uscc": [m[1] for m in meta],
            "applied_at": [m[2] for m in meta],
            "feature_month": [m[3] for m in meta],
            "decision": index.lake_applications["decision"].to_list() if rows else [],
            "applicant_id": index.lake_applications["applicant_id"].to_list() if rows else [],
        },
        schema_overrides={"feature_month": pl.Date},
    ).hstack(frame)
    return join_panel(index, frame), hits_by_application


def join_panel(index: SentinelIndex, frame: pl.DataFrame) -> pl.DataFrame:
    """The firm's panel row and the legal rep's and spouse's credit for the feature month."""
    panel = index.firm_panel.rename({"month": "feature_month"})
    frame = frame.join(panel, on=["uscc", "feature_month"], how="left")
    reps = pl.DataFrame(
        {
            "uscc": list(index.firms),
            "rep_id": [f.legal_rep for f in index.firms.values()],
            "spouse_id": [
                index.persons.get(f.legal_rep, {}).get("spouse") for f in index.firms.values()
            ],
        },
        schema={"uscc": pl.Utf8, "rep_id": pl.Utf8, "spouse_id": pl.Utf8},
    )
    frame = frame.join(reps, on="uscc", how="left")
    people = index.person_panel.rename({"month": "feature_month"})
    rep = people.rename(
        {
            "person_id": "rep_id",
            "overdue_accounts": "rep_overdue_accounts",
            "overdue_amount": "rep_overdue_amount",
            "worst_status_24m": "rep_worst_24m",
            "card_utilisation": "rep_card_utilisation",
        }
    )
    spouse = people.select(
        pl.col("person_id").alias("spouse_id"),
        "feature_month",
        pl.col("overdue_accounts").alias("spouse_overdue_accounts"),
        pl.col("worst_status_24m").alias("spouse_worst_24m"),
    )
    frame = frame.join(rep, on=["rep_id", "feature_month"], how="left")
    frame = frame.join(spouse, on=["spouse_id", "feature_month"], how="left")
    frame = frame.with_columns(
        [to_polars(tree).alias(name) for name, tree in _DERIVED_TREES.items()]
    )
    for name, dtype in SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(name))
    numeric = [c for c, t in frame.schema.items() if t == pl.Float64]
    return frame.with_columns([pl.col(c).fill_nan(None) for c in numeric]).drop(
        "rep_id", "spouse_id"
    )


def row_dicts(frame: pl.DataFrame) -> list[Mapping[str, Any]]:
    return list(frame.iter_rows(named=True))
