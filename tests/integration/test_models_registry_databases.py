"""The model registry round-trips on every store backend: register, promote, roll back, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import puhui.data.store.model_registry_tables  # noqa: F401 - registers the tables on Base.metadata
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.engine import make_session_factory
from puhui.data.store.tables import Base
from puhui.models.artifacts import ModelMetadata
from puhui.models.registry import ModelRegistry
from puhui.models.scorecard import Scorecard

pytestmark = pytest.mark.integration


def test_registry_tables_match_the_migration(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert [d for d in differences if REGISTRY_TABLES & set(_tables(d))] == []


REGISTRY_TABLES = {"model_version", "model_status_change"}


def _tables(difference: object) -> list[str]:
    """The table names a difference (or a list of them) touches."""
    if isinstance(difference, list):
        return [name for item in difference for name in _tables(item)]
    found = []
    for part in difference if isinstance(difference, tuple) else (difference,):
        table = getattr(part, "table", None)
        name = getattr(table, "name", None) or getattr(part, "name", None)
        if isinstance(part, str):
            found.append(part)
            continue
        if isinstance(name, str):
            found.append(name)
    return found


def test_registry_promotes_and_rolls_back_on_this_backend(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400)})
    y = (X.a + rng.normal(size=400) > 1).astype(int).to_numpy()
    registry = ModelRegistry(make_session_factory(migrated_engine), tmp_path / "models")
    for _ in range(2):
        registry.register(
            Scorecard().fit(X, y),
            ModelMetadata(
                name="app_pd",
                version="",
                kind="scorecard",
                features=["a"],
                target="bad",
                trained_by="S1",
                trained_at=datetime.now(UTC),
                metrics={"dev": {"auc": 0.7}},
            ),
        )
    registry.promote("app_pd", "1", actor="R1", reason="委员会批准")
    registry.promote("app_pd", "2", actor="R1")
    registry.rollback("app_pd", actor="R2")

    _model, metadata = registry.load_champion("app_pd")
    assert metadata.version == "1" and registry.get("app_pd", "2").status == "retired"
    assert [c.action for c in registry.history("app_pd")][-1] == "rollback"
    assert registry.history("app_pd")[-3].reason == "委员会批准"
    with registry.session_factory() as session:
        assert verify_audit_chain(session).ok
