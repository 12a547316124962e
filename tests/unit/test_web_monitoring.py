"""Model monitoring on the risk officer's portfolio: the current book scored against each
model's training baseline; a model whose baseline no longer looks like the book is flagged, one
trained on the book itself is not."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest

from puhui.actions.access import AccessPolicy
from puhui.api import create_app
from puhui.data.lake import Lake
from puhui.data.store import make_engine, make_session_factory
from puhui.features.store import load_features
from puhui.models.artifacts import ModelMetadata
from puhui.models.gbm import LightGBMChallenger
from puhui.models.monitor import DriftThresholds, book_drift
from puhui.models.registry import ModelRegistry
from puhui.models.training import DEVELOPMENT, PD_COLUMN, SPLIT_COLUMN, TARGET_COLUMN
from puhui.settings import Settings
from puhui.web.monitoring import book_usccs, monitor_models
from support.workbench import AS_OF, cheap_passwords, shared_province, signed_in

FEATURES = ["tax_declared_revenue_sum_12m", "reg_age_months", "bureau_ent_overdue_amount_mean_3m"]


def test_book_drift_flags_a_shifted_population_and_names_the_feature() -> None:
    rng = np.random.default_rng(3)
    base = pd.DataFrame({"a": rng.normal(0, 1, 4000), "b": rng.normal(0, 1, 4000)})
    same = pd.DataFrame({"a": rng.normal(0, 1, 800), "b": rng.normal(0, 1, 800)})
    moved = same.assign(a=same["a"] + 1.5)
    score = lambda frame: 1 / (1 + np.exp(-frame["a"]))  # noqa: E731
    stable = book_drift(score(base), base, score(same), same, features=["a", "b"])
    drifted = book_drift(score(base), base, score(moved), moved, features=["a", "b"])
    assert not stable.flagged and stable.score_psi < 0.1
    assert drifted.flagged and drifted.score_psi > 0.25
    assert drifted.top_features[0][0] == "a" and drifted.top_features[0][1] > 0.25
    assert any("feature a" in flag for flag in drifted.flags)
    assert not any("feature b" in flag for flag in drifted.flags)
    assert (drifted.count, drifted.baseline_count) == (800, 4000)
    strict = book_drift(
        score(base),
        base,
        score(same),
        same,
        features=["a", "b"],
        thresholds=DriftThresholds(score_psi=0.0, feature_psi=0.0),
    )
    assert strict.flagged  # the limits are the caller's


def test_book_drift_of_an_empty_book_is_not_a_flag() -> None:
    base = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    empty = book_drift([0.1, 0.2, 0.3], base, [], base.iloc[:0], features=["a"])
    assert empty.count == 0 and not empty.flagged and np.isnan(empty.score_psi)


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The shared province's lake and features (linked), its store copied, and two models:
    ``drifted_pd``, whose development rows had ten times the book's revenue and were all
    young firms, and ``stable_pd``, trained on the book's own rows."""
    province = shared_province()
    folder = tmp_path_factory.mktemp("monitoring")
    for name in ("lake", "features"):
        (folder / name).symlink_to((province.data_dir / name).resolve())
    shutil.copy(province.data_dir / "puhui.db", folder / "puhui.db")
    engine = make_engine(f"sqlite:///{folder / 'puhui.db'}")
    registry = ModelRegistry(make_session_factory(engine), folder / "models")
    book = book_usccs(Lake(folder / "lake"))
    rows = load_features(folder / "features", AS_OF, columns=FEATURES, usccs=book)
    X = rows.select(FEATURES).to_pandas()
    y = (np.arange(len(X)) % 7 == 0).astype(int)
    for name, baseline in (
        ("stable_pd", X),
        (
            "drifted_pd",
            X.assign(
                tax_declared_revenue_sum_12m=X["tax_declared_revenue_sum_12m"] * 10,
                reg_age_months=X["reg_age_months"].clip(upper=6),
            ),
        ),
    ):
        model = LightGBMChallenger(n_estimators=20, num_leaves=4, min_child_samples=5)
        model.fit(baseline, y)
        evaluation = baseline.copy()
        evaluation[SPLIT_COLUMN] = DEVELOPMENT
        evaluation[TARGET_COLUMN] = y
        evaluation[PD_COLUMN] = model.predict_proba(baseline)[:, 1]
        entry = registry.register(
            model,
            ModelMetadata(
                name=name,
                version="",
                kind=model.kind,
                features=FEATURES,
                target="pd",
                trained_by="test",
                trained_at=datetime(2026, 1, 2, tzinfo=UTC),
            ),
            evaluation,
        )
        registry.promote(name, entry.version, actor="test")
    engine.dispose()
    app = create_app(
        Settings(data_dir=folder),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    return app, province, folder, len(book)


def _row(html: str, model: str) -> str:
    table = html.split('data-testid="model-monitoring"')[1].split("</table>")[0]
    return re.search(rf'<tr data-model="{model}".*?</tr>', table, re.S).group(0)


def test_the_portfolio_flags_the_drifted_model_and_not_the_stable_one(world) -> None:  # type: ignore[no-untyped-def]
    app, province, _, book = world
    assert book > 20, "the province's loan book is too small to monitor"
    page = signed_in(app, province, "demo_risk_officer").get("/portfolio")
    assert page.status_code == 200
    drifted, stable = _row(page.text, "drifted_pd"), _row(page.text, "stable_pd")
    assert 'data-flagged="1"' in drifted and "tax_declared_revenue_sum_12m" in drifted
    assert "score PSI" in drifted and "漂移" in drifted
    assert 'data-flagged="0"' in stable and "稳定" in stable
    assert f"{book:,} <span" in stable  # the whole book was scored


def test_monitoring_is_for_bank_wide_roles_only(world) -> None:  # type: ignore[no-untyped-def]
    app, province, _, _ = world
    page = signed_in(app, province, "demo_branch_manager").get("/portfolio")
    assert page.status_code == 200 and 'data-testid="model-monitoring"' not in page.text


def test_a_model_whose_features_the_snapshot_lacks_says_so(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, folder, _ = world
    engine = make_engine(f"sqlite:///{folder / 'puhui.db'}")
    registry = ModelRegistry(make_session_factory(engine), folder / "models")
    frame = pl.DataFrame({"not_in_snapshot": [0.0, 1.0, 2.0, 3.0] * 10})
    X = frame.to_pandas()
    y = np.array([0, 1] * 20)
    model = LightGBMChallenger(n_estimators=5, num_leaves=3, min_child_samples=2).fit(X, y)
    evaluation = X.assign(**{SPLIT_COLUMN: DEVELOPMENT, TARGET_COLUMN: y, PD_COLUMN: 0.5})
    metadata = ModelMetadata(
        name="odd_pd",
        version="",
        kind=model.kind,
        features=["not_in_snapshot"],
        target="pd",
        trained_by="test",
        trained_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    entry = registry.register(model, metadata, evaluation)
    registry.set_challenger("odd_pd", entry.version, actor="test")
    rows = monitor_models(registry, folder / "features", Lake(folder / "lake"))
    engine.dispose()
    odd = next(r for r in rows if r.name == "odd_pd")
    assert odd.drift is None and "not_in_snapshot" in odd.problem and not odd.flagged


def test_the_report_of_a_development_only_model_opens_and_says_why_psi_is_missing(world) -> None:  # type: ignore[no-untyped-def]
    app, province, _, _ = world
    client = signed_in(app, province, "demo_model_developer")
    link = re.search(r'href="(/models/stable_pd/\d+/report)"', client.get("/models").text)
    assert link, "the registry page lists no report for stable_pd"
    report = client.get(link.group(1))
    assert report.status_code == 200
    assert "No out-of-time rows: stability not measured" in report.text
