"""Time-ordered training, the validation report, monitoring, labels and the CLI round trip."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from puhui.cli import model as model_cli
from puhui.cli.context import set_settings
from puhui.data.store.engine import make_engine
from puhui.data.store.migrate import upgrade
from puhui.models.artifacts import ModelMetadata
from puhui.models.labels import application_labels, behaviour_labels
from puhui.models.monitor import monitor
from puhui.models.report import validation_numbers
from puhui.models.report_html import render_report
from puhui.models.training import DEVELOPMENT, OUT_OF_TIME, SPLIT_COLUMN, VALIDATION, train_model
from puhui.settings import load_settings


def _monthly_frame(months: int = 8, per_month: int = 250, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(months):
        as_of = pd.Timestamp(2025, 1 + m, 1)
        leverage = rng.normal(loc=0.1 * m, size=per_month)
        cash = rng.normal(size=per_month)
        y = (rng.random(per_month) < 1 / (1 + np.exp(-(-2 + leverage - cash)))).astype(int)
        rows.append(
            pd.DataFrame(
                {
                    "uscc": [f"U{m}_{i}" for i in range(per_month)],
                    "as_of": as_of,
                    "leverage": leverage,
                    "cash": cash,
                    "default_6m": y,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_time_split_never_trains_on_a_later_month_than_it_validates() -> None:
    frame = _monthly_frame()
    result = train_model(frame, "default_6m", "as_of", kind="scorecard")
    evaluation = result.evaluation

    last_development = evaluation.loc[evaluation[SPLIT_COLUMN] == DEVELOPMENT, "_time"].max()
    assert evaluation.loc[evaluation[SPLIT_COLUMN] == VALIDATION, "_time"].min() > last_development
    assert evaluation.loc[evaluation[SPLIT_COLUMN] == OUT_OF_TIME, "_time"].min() == pd.Timestamp(
        2025, 8, 1
    )
    assert result.features == ["leverage", "cash"]
    assert result.metrics[OUT_OF_TIME]["auc"] > 0.6


def test_validation_report_is_self_contained_html_with_the_same_numbers_as_json() -> None:
    result = train_model(_monthly_frame(), "default_6m", "as_of", kind="scorecard")
    metadata = ModelMetadata(
        name="ew_pd",
        version="1",
        kind="scorecard",
        features=result.features,
        target="default_6m",
        trained_by="S1",
        trained_at=pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
    )
    numbers = validation_numbers(result.model, metadata, result.evaluation)
    html = render_report(numbers)

    assert numbers["splits"][OUT_OF_TIME]["auc"] == pytest.approx(
        result.metrics[OUT_OF_TIME]["auc"]
    )
    assert numbers["stability"]["recent_split"] == OUT_OF_TIME
    assert (
        numbers["stability"]["feature_psi"]["leverage"]
        > numbers["stability"]["feature_psi"]["cash"]
    )
    assert (
        "data:image/png;base64," in html
        and "<script src" not in html
        and "http" not in html.split("<pre>")[0]
    )
    assert "评分卡" in html and "leverage" in html


def test_monitoring_flags_a_month_whose_scores_drifted() -> None:
    rng = np.random.default_rng(0)
    baseline = pd.DataFrame({"x": rng.normal(size=2000)})
    recent = pd.DataFrame(
        {
            "month": ["2026-01"] * 500 + ["2026-02"] * 500,
            "x": np.r_[rng.normal(size=500), rng.normal(loc=1.5, size=500)],
            "target": np.r_[rng.integers(0, 2, 500), [np.nan] * 500],
        }
    )
    recent["score"] = recent["x"]
    reports = monitor(
        baseline["x"],
        baseline,
        recent,
        month_column="month",
        score_column="score",
        target_column="target",
        features=["x"],
        development_auc=0.8,
    )

    january, february = reports
    assert january.matured == 500 and january.realised_auc is not None
    assert any("realised AUC" in flag for flag in january.flags)
    assert february.realised_auc is None and february.matured == 0
    assert any("score PSI" in flag for flag in february.flags) and any(
        "feature x" in flag for flag in february.flags
    )


@pytest.fixture
def lake_connection() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    months = pd.date_range("2025-01-01", periods=15, freq="MS").date
    rows = []
    for i, month in enumerate(months):
        rows.append(("L1", "A", month, 0, "active"))  # performs throughout
        rows.append(
            ("L2", "B", month, 95 if i >= 5 else (30 if i == 4 else 0), "active")
        )  # 90+ in month 6
    connection.execute(
        "create table bank_loan_monthly (loan_id varchar, uscc varchar, month date, "
        "overdue_days int, status varchar)"
    )
    connection.executemany("insert into bank_loan_monthly values (?, ?, ?, ?, ?)", rows)
    connection.execute(
        "create table bank_loan (loan_id varchar, uscc varchar, disbursed_on date, "
        "application_id varchar)"
    )
    connection.execute(
        "insert into bank_loan values ('L1', 'A', date '2025-01-01', 'P1'),"
        " ('L2', 'B', date '2025-01-01', 'P2')"
    )
    connection.execute(
        "create table app_application (application_id varchar, uscc varchar, "
        "applied_at timestamp, decision varchar)"
    )
    connection.execute(
        "insert into app_application values ('P1', 'A', timestamp '2024-12-20 10:00', 'approved'),"
        " ('P2', 'B', timestamp '2024-12-21 10:00', 'approved'),"
        " ('P3', 'C', timestamp '2024-12-22 10:00', 'rejected')"
    )
    return connection


def test_behaviour_labels_look_forward_from_as_of_and_wait_for_maturity(lake_connection) -> None:
    labels = behaviour_labels(lake_connection).to_pandas().set_index(["uscc", "as_of"]).sort_index()

    b = labels.loc["B"]
    assert (
        b.loc[pd.Timestamp(2025, 1, 1), "default_3m"] == 0
        and b.loc[pd.Timestamp(2025, 1, 1), "default_6m"] == 1
    )
    assert b.loc[pd.Timestamp(2025, 3, 1), "default_3m"] == 1
    assert pd.Timestamp(2025, 6, 1) not in b.index  # already 90+ overdue: defaulted, not predicted
    a = labels.loc["A"]
    assert a.loc[pd.Timestamp(2025, 1, 1), "default_12m"] == 0
    assert pd.isna(
        a.loc[pd.Timestamp(2025, 6, 1), "default_12m"]
    )  # window beyond the lake's last month


def test_application_labels_follow_approval_to_loan_to_90_days_overdue(lake_connection) -> None:
    labels = application_labels(lake_connection).to_pandas().set_index("application_id")

    assert labels.loc["P1", "bad_12m"] == 0 and labels.loc["P2", "bad_12m"] == 1
    assert not labels.loc["P3", "approved"] and pd.isna(labels.loc["P3", "bad_12m"])


def test_cli_trains_promotes_reports_and_rolls_back(tmp_path: Path) -> None:
    frame_path = tmp_path / "features.parquet"
    _monthly_frame(months=6, per_month=150).to_parquet(frame_path)
    settings = load_settings(data_dir=tmp_path / "data")
    set_settings(settings)
    upgrade(make_engine(settings.resolved_store_url))
    # The model commands mounted as `puhui model` mounts them, without the rest of the CLI.
    app = typer.Typer()
    app.callback()(lambda: None)
    app.add_typer(model_cli.app, name="model")
    runner = CliRunner()

    def run(*args: str) -> int:
        result = runner.invoke(app, ["model", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code

    for kind in ("scorecard", "lightgbm"):
        assert (
            run(
                "train",
                "ew_pd",
                "--frame",
                str(frame_path),
                "--target",
                "default_6m",
                "--kind",
                kind,
                "--by",
                "S1",
            )
            == 0
        )
    assert run("promote", "ew_pd", "1", "--by", "R1") == 0
    assert run("promote", "ew_pd", "2", "--by", "R1") == 0
    assert run("report", "ew_pd") == 0
    assert (tmp_path / "data" / "reports" / "models" / "ew_pd-v2.html").is_file()
    assert (tmp_path / "data" / "reports" / "models" / "ew_pd-v2.json").is_file()
    assert run("monitor", "ew_pd", "--frame", str(frame_path), "--target-column", "default_6m") == 0
    assert run("rollback", "ew_pd", "--by", "R2") == 0
    assert run("list") == 0
    failed = runner.invoke(app, ["model", "promote", "ew_pd", "7", "--by", "R1"])
    assert failed.exit_code != 0 and "no version '7'" in str(failed.exception)
