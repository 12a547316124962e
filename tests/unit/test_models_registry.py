"""The registry versions artifacts, promotes and rolls back champions, and audits each change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import puhui.data.store.model_registry_tables  # noqa: F401 - registers the tables on Base.metadata
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.tables import AuditEvent
from puhui.models.artifacts import BOOSTER_FILE, MODEL_FILE, ModelMetadata
from puhui.models.errors import RegistryError
from puhui.models.gbm import LightGBMChallenger
from puhui.models.registry import ModelRegistry
from puhui.models.scorecard import Scorecard


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    return ModelRegistry(make_session_factory(engine), tmp_path / "models", clock=_Clock())


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = (X.a + rng.normal(size=600) > 1).astype(int).to_numpy()
    return X, y


def _metadata(kind: str, features: list[str]) -> ModelMetadata:
    return ModelMetadata(
        name="app_pd",
        version="",
        kind=kind,
        features=features,
        target="bad_12m",
        trained_by="S001",
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        metrics={"development": {"auc": 0.7, "ks": float("nan")}},
    )


def _register_two(registry: ModelRegistry, data) -> None:
    X, y = data
    registry.register(Scorecard().fit(X, y), _metadata("scorecard", ["a", "b"]))
    registry.register(
        LightGBMChallenger(n_estimators=20).fit(X, y), _metadata("lightgbm", ["a", "b"])
    )


def test_versions_are_numbered_and_stored_without_pickle(registry, data) -> None:
    _register_two(registry, data)
    versions = registry.versions("app_pd")

    assert [(v.version, v.kind, v.status) for v in versions] == [
        ("1", "scorecard", "candidate"),
        ("2", "lightgbm", "candidate"),
    ]
    assert (versions[0].artifact_dir / MODEL_FILE).is_file()
    assert (versions[1].artifact_dir / BOOSTER_FILE).read_text().startswith("tree")
    assert not list(versions[0].artifact_dir.parent.rglob("*.pkl"))
    assert versions[0].metrics["development"]["ks"] is None


def test_promote_then_rollback_restores_the_previous_champion(registry, data) -> None:
    _register_two(registry, data)
    registry.promote("app_pd", "1", actor="R007", reason="approved by committee 2026-01")
    registry.promote("app_pd", "2", actor="R007")

    assert registry.champion("app_pd").version == "2"
    assert registry.get("app_pd", "1").status == "retired"

    registry.rollback("app_pd", actor="R008", reason="PSI alarm")

    assert registry.champion("app_pd").version == "1"
    assert registry.get("app_pd", "2").status == "retired"
    actions = [
        (c.action, c.version, c.replaced_version, c.actor) for c in registry.history("app_pd")
    ]
    assert actions[-3:] == [
        ("promote", "1", None, "R007"),
        ("promote", "2", "1", "R007"),
        ("rollback", "1", "2", "R008"),
    ]


def test_every_status_change_is_in_the_audit_log(registry, data) -> None:
    _register_two(registry, data)
    registry.promote("app_pd", "1", actor="R007")
    registry.promote("app_pd", "2", actor="R007")
    registry.rollback("app_pd", actor="R008")

    with registry.session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert verify_audit_chain(session).ok
    assert [e.action for e in events][-3:] == ["model.promote", "model.promote", "model.rollback"]
    assert events[-1].subject_id == "app_pd:1" and events[-1].actor == "R008"


def test_load_champion_scores_like_the_model_that_was_registered(registry, data) -> None:
    X, y = data
    card = Scorecard().fit(X, y)
    registry.register(card, _metadata("scorecard", ["a", "b"]))
    registry.promote("app_pd", "1", actor="R007")

    model, metadata = registry.load_champion("app_pd")
    assert metadata.version == "1"
    assert np.array_equal(model.score(X), card.score(X))


def test_refusals_name_the_model_and_version(registry, data) -> None:
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        registry.champion("nope")
    _register_two(registry, data)
    with pytest.raises(RegistryError, match="no version '9'"):
        registry.promote("app_pd", "9", actor="R007")
    with pytest.raises(RegistryError, match="has no champion"):
        registry.rollback("app_pd", actor="R007")
    registry.promote("app_pd", "1", actor="R007")
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback("app_pd", actor="R007")
    with pytest.raises(RegistryError, match="must be"):
        registry.register(
            Scorecard(),
            _metadata("scorecard", []).__class__(
                **{**_metadata("scorecard", []).__dict__, "name": "Bad Name"}
            ),
        )
