"""Models on a synthetic province: point-in-time datasets from the feature store, training on a
time-ordered split, registry, serving with reasons and the validation report.

One small province per module (2,000 firms × 30 months, 12 monthly snapshots). Application PD
has too few bads at this size for a stable AUC (≈ 1.4% of booked loans default), so the AUC bar
is checked on the behaviour PD (12 months); application datasets are checked for timing only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from puhui.cli import model as model_cli
from puhui.cli.context import set_settings
from puhui.data.lake import Lake
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine
from puhui.features.store import build_snapshots, load_features
from puhui.features.timing import add_months
from puhui.models import workflow
from puhui.models.datasets import TARGET_COLUMN, build_dataset, month_dates
from puhui.models.gbm import LightGBMChallenger
from puhui.models.labels import application_labels, first_payment_default_labels
from puhui.models.registry import ModelRegistry
from puhui.models.training import OUT_OF_TIME
from puhui.settings import load_settings
from support.province import ingest, simulate

pytestmark = pytest.mark.integration

SNAPSHOTS = month_dates(date(2024, 8, 1), date(2025, 7, 1))  # 12 as-of dates


@dataclass
class Province:
    root: Path
    lake: Lake

    @property
    def features(self) -> Path:
        return self.root / "features"

    def connect(self):
        return self.lake.connect()


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Province:
    root = tmp_path_factory.mktemp("province")
    incoming = simulate(root, enterprises=2000, months=30, seed=11, end_month="2026-06")
    lake = ingest(incoming, root / "lake")
    build_snapshots(lake, load_feature_catalog(), SNAPSHOTS, root / "features", DuckDBEngine())
    upgrade(make_engine(f"sqlite:///{root / 'puhui.db'}"))
    return Province(root, lake)


@pytest.fixture(scope="module")
def behaviour(province):
    dataset = build_dataset(province.connect(), province.features, "behaviour_pd_12m")
    return workflow.prepare(dataset, max_features=25)


@pytest.fixture(scope="module")
def trained(behaviour):
    catalog = load_feature_catalog()
    return {kind: workflow.fit(behaviour, kind, catalog) for kind in ("scorecard", "lightgbm")}


def _registry(province: Province, name: str) -> ModelRegistry:
    engine = make_engine(f"sqlite:///{province.root / 'puhui.db'}")
    return ModelRegistry(make_session_factory(engine), province.root / "models" / name)


def test_application_rows_use_the_snapshot_of_their_month_and_matured_outcomes(province):
    dataset = build_dataset(province.connect(), province.features, "application_pd")
    frame = dataset.frame
    applied = application_labels(province.connect()).select("application_id", "applied_on")
    rows = frame.join(applied, on="application_id", how="left")

    assert frame.height > 100 and frame[TARGET_COLUMN].sum() > 0
    assert rows["applied_on"].null_count() == 0
    # The snapshot is as of the first day of the application's month: never after it.
    assert (rows["as_of"] == rows["applied_on"].dt.truncate("1mo")).all()
    assert (rows["as_of"] <= rows["applied_on"]).all()
    assert (rows["as_of"] <= rows["outcome_from"]).all()  # disbursed after the features' date
    # Matured: the whole 12-month window ends within the lake.
    assert (frame["outcome_to"] <= add_months(dataset.last_month, 1)).all()
    assert set(frame["as_of"].unique().to_list()) <= set(SNAPSHOTS)
    # The features are exactly the snapshot's as of that date.
    row = frame.filter(pl.col("uscc").is_not_null()).row(0, named=True)
    snapshot = load_features(province.features, row["as_of"], usccs=[row["uscc"]]).row(
        0, named=True
    )
    for name in dataset.features[:200]:
        assert row[name] == snapshot[name] or (row[name] is None and snapshot[name] is None)


def test_behaviour_rows_score_a_month_with_the_next_snapshot_and_wait_for_maturity(behaviour):
    dataset = behaviour.dataset
    frame = dataset.frame
    assert (frame["as_of"] == frame["outcome_from"]).all()  # the window starts where data stops
    assert (frame["outcome_to"] == frame["as_of"].dt.offset_by("12mo")).all()
    assert (frame["outcome_to"] <= add_months(dataset.last_month, 1)).all()
    assert frame["as_of"].unique().sort().to_list() == SNAPSHOTS  # all matured by 2026-06
    assert 0.002 < frame[TARGET_COLUMN].mean() < 0.1


def test_datasets_never_read_ground_truth(province):
    connection = province.connect()
    connection.execute("drop view truth_application")
    connection.execute("drop view truth_enterprise")
    for target in ("application_pd", "behaviour_pd_3m", "propensity", "fraud_fpd"):
        dataset = build_dataset(connection, province.features, target, max_rows_per_date=500)
        assert dataset.frame.height > 0, target


def test_observable_labels_track_the_truth(province):
    """Truth only measures the labels here: bads are real defaults, FPD leans to fraud."""
    connection = province.connect()
    truth = pl.from_arrow(
        connection.sql(
            "select application_id, is_fraud, defaulted_within_12m from truth_application"
        ).to_arrow_table()
    )
    labels = (
        application_labels(connection).filter(pl.col("matured")).join(truth, on="application_id")
    )
    bads = labels.filter(pl.col("bad_12m") == 1)
    assert bads.height > 0 and bads["defaulted_within_12m"].mean() > 0.8
    fpd = first_payment_default_labels(connection).join(truth, on="application_id")
    flagged = fpd.filter(pl.col("fpd_6m") == 1)
    if flagged.height:
        assert flagged["is_fraud"].mean() > fpd.filter(pl.col("fpd_6m") == 0)["is_fraud"].mean()


def test_selection_and_split_use_development_rows_in_time_order(behaviour):
    split = behaviour.split
    assert split.development_end < split.validation_end < behaviour.data["as_of"].max()
    assert 5 <= len(behaviour.features) <= 25
    assert set(behaviour.features) <= set(behaviour.dataset.features)


def test_scorecard_and_lightgbm_beat_a_coin_out_of_time(trained):
    for kind, result in trained.items():
        oot = result.metrics[OUT_OF_TIME]
        assert oot["count"] * oot["bad_rate"] >= 5, kind
        # About 23 out-of-time bads: the AUC's standard error is ~0.06, and DuckDB's parallel sums
        # move features in the last bits, which can move a bin edge. Seen: scorecard 0.595–0.609,
        # LightGBM ~0.67. The bar says "better than a coin", not "as good as on 10k firms".
        assert oot["auc"] > 0.55, (kind, oot)


def test_lightgbm_is_monotone_in_the_catalogs_business_direction(trained):
    model = trained["lightgbm"].model
    assert isinstance(model, LightGBMChallenger)
    directions = {f.name: f.direction for f in load_feature_catalog().features}
    for name, constraint in model.monotone_.items():
        assert constraint == -directions[name]


def test_register_promote_rollback_and_serve_the_champion_with_reasons(
    province, behaviour, trained
):
    catalog = load_feature_catalog()
    registry = _registry(province, "serve")
    versions = {
        kind: workflow.register(
            registry, "ew_pd_12m", behaviour, result, catalog, trained_by="S001"
        ).version
        for kind, result in trained.items()
    }
    registry.promote("ew_pd_12m", versions["scorecard"], actor="R001")
    registry.promote("ew_pd_12m", versions["lightgbm"], actor="R001")
    assert registry.champion("ew_pd_12m").version == versions["lightgbm"]
    registry.rollback("ew_pd_12m", actor="R001", reason="test")
    assert registry.champion("ew_pd_12m").version == versions["scorecard"]

    model, metadata = registry.load_champion("ew_pd_12m")
    assert metadata.training["target"] == "behaviour_pd_12m"
    assert metadata.training["as_of_dates"] == len(SNAPSHOTS)
    latest = load_features(province.features, SNAPSHOTS[-1], columns=metadata.features)
    probability = model.predict_proba(latest[metadata.features])[:, 1]
    assert probability.shape == (latest.height,) and 0 < probability.mean() < 0.5
    riskiest = latest[int(probability.argmax())]
    reasons = model.reasons(riskiest[metadata.features], metadata.descriptions)[0]
    assert reasons
    zh = {f.name: f.zh for f in catalog.features}
    assert all(reason.zh == zh[reason.feature] for reason in reasons)

    html, numbers = workflow.write_report(
        registry, "ew_pd_12m", versions["scorecard"], province.root / "reports" / "r.html"
    )
    text = html.read_text(encoding="utf-8")
    assert "Training data" in text and "<script src" not in text
    assert zh[metadata.features[0]] in text
    assert numbers.exists()


def test_cli_trains_from_the_feature_store_and_the_demo_hook_runs(province):
    settings = load_settings(data_dir=province.root)
    set_settings(settings)
    app = typer.Typer()
    app.callback()(lambda: None)
    app.add_typer(model_cli.app, name="model")
    result = CliRunner().invoke(
        app,
        ["model", "train", "--target", "behaviour_pd_6m", "--algorithm", "lightgbm"],
    )
    assert result.exit_code == 0, result.output
    assert "registered behaviour_pd_6m version 1" in result.output
    assert (province.root / "reports" / "models" / "behaviour_pd_6m-v1.html").exists()

    from rich.console import Console

    demo = model_cli.demo_models(settings, Console(width=120, record=True))
    assert demo.report.exists()
    registry = _registry(province, "unused")
    registry.models_dir = province.root / "models"
    assert registry.champion("application_pd").version == demo.champion_version
    assert set(demo.out_of_time) == {"scorecard", "lightgbm"}


def test_province_split_gives_each_party_its_own_sources_and_the_bank_alone_the_labels(
    province, tmp_path
):
    """联合建模 on the province: firm-month ids both sides can form, labels only at the bank,
    today's firms unlabelled, and no column on both sides."""
    from puhui.federated.data import load_party
    from puhui.federated.province import split_province

    training, today = SNAPSHOTS[:6], SNAPSHOTS[-1]
    split = split_province(
        province.connect(),
        province.features,
        load_feature_catalog(),
        tmp_path / "bank",
        tmp_path / "platform",
        training_dates=training,
        score_as_of=today,
    )
    bank = load_party(tmp_path / "bank", with_labels=True)
    platform = pl.read_parquet(tmp_path / "platform" / "party.parquet")
    assert "label" not in platform.columns
    assert not set(split.bank_columns) & set(split.platform_columns)
    dated = [identifier.split("@") for identifier in bank.ids]
    labelled = [i for i, (_, day) in enumerate(dated) if day < today.isoformat()]
    todays = [i for i, (_, day) in enumerate(dated) if day == today.isoformat()]
    assert len(labelled) == split.bank_labelled_rows > 0 and todays
    assert not pl.Series(bank.labels[labelled]).is_nan().any()
    assert pl.Series(bank.labels[todays]).is_nan().all()
    firms = (
        province.connect().sql("select count(distinct uscc) from reg_enterprise").fetchall()[0][0]
    )
    assert platform.height == split.platform_rows <= firms * (len(training) + 1)
    assert set(bank.ids) - set(platform["id"]) == set()  # the platform knows every firm-month
