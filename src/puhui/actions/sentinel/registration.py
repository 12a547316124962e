"""Register the sentinel's risk models in the model registry (模型登记册), each with its
metrics, as the champion of ``sentinel_<name>``; the service loads them back from there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.sentinel.service import MODEL_PREFIX
from puhui.actions.sentinel.training import TrainedModel
from puhui.data.store.model_registry_tables import ModelStatus
from puhui.models.artifacts import ModelMetadata
from puhui.models.registry import ModelRegistry, RegisteredVersion


def register_models(
    models: Sequence[TrainedModel],
    session_factory: sessionmaker[Session],
    models_dir: Path,
    *,
    trained_by: str = "sentinel",
) -> list[RegisteredVersion]:
    registry = ModelRegistry(session_factory, models_dir)
    versions = []
    for trained in models:
        metadata = ModelMetadata(
            name=MODEL_PREFIX + trained.spec.name,
            version="",
            kind=trained.model.kind,
            features=list(trained.spec.features),
            target=trained.spec.label,
            trained_by=trained_by,
            trained_at=datetime.now(UTC),
            metrics=dict(trained.metrics),
            descriptions={},
            training={"zh": trained.spec.zh, "en": trained.spec.en},
        )
        versions.append(
            registry.register(
                trained.model,  # type: ignore[arg-type]  # JSON-serialisable, see models.py
                metadata,
                status=ModelStatus.CHAMPION,
            )
        )
    return versions
