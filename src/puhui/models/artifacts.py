"""Model artifacts on disk (模型制品): JSON and LightGBM text, never pickle.

A version folder holds ``model.json`` (the fitted model as data; LightGBM's trees go to
``booster.txt``), ``metadata.json`` and ``evaluation.parquet`` (development and recent scores,
targets and features, which the validation report and monitoring read).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from puhui.models.ebm import EbmChampion
from puhui.models.errors import ArtifactError
from puhui.models.gbm import LightGBMChallenger
from puhui.models.reasons import Descriptions, Reason
from puhui.models.scorecard import Scorecard

MODEL_FILE = "model.json"
BOOSTER_FILE = "booster.txt"
METADATA_FILE = "metadata.json"
EVALUATION_FILE = "evaluation.parquet"


class CreditModel(Protocol):
    """What every puhui model offers once fitted."""

    kind: str

    def predict_proba(self, X: Any) -> np.ndarray: ...

    def reasons(
        self, X: Any, descriptions: Descriptions | None = None, top: int = 4
    ) -> list[list[Reason]]: ...

    def to_dict(self) -> dict[str, Any]: ...


MODEL_KINDS: dict[str, Any] = {
    Scorecard.kind: Scorecard,
    LightGBMChallenger.kind: LightGBMChallenger,
    EbmChampion.kind: EbmChampion,
}


def make_model(kind: str, params: dict[str, Any] | None = None) -> CreditModel:
    """A new, unfitted model of ``kind`` (scorecard, lightgbm, ebm)."""
    if kind not in MODEL_KINDS:
        raise ArtifactError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind](**(params or {}))


def model_from_dict(data: dict[str, Any]) -> CreditModel:
    """Rebuild a fitted model from its JSON form."""
    kind = data.get("kind")
    if kind not in MODEL_KINDS:
        raise ArtifactError(f"unknown model kind {kind!r} in artifact")
    return MODEL_KINDS[kind].from_dict(data)


@dataclass(frozen=True)
class ModelMetadata:
    """What a version was trained on, by whom and when, and how it measured."""

    name: str
    version: str
    kind: str
    features: list[str]
    target: str
    trained_by: str
    trained_at: datetime
    time_column: str | None = None
    data_window_start: date | None = None
    data_window_end: date | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    descriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Where the rows came from: target definition, snapshot dates, counts, feature selection.
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """JSON text with ISO dates."""
        data = asdict(self)
        data["trained_at"] = self.trained_at.isoformat()
        for key in ("data_window_start", "data_window_end"):
            data[key] = data[key].isoformat() if data[key] else None
        return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        """Parse ``to_json``."""
        data = json.loads(text)
        data["trained_at"] = datetime.fromisoformat(data["trained_at"])
        for key in ("data_window_start", "data_window_end"):
            data[key] = date.fromisoformat(data[key]) if data.get(key) else None
        data["descriptions"] = {
            k: (v[0], v[1]) for k, v in (data.get("descriptions") or {}).items()
        }
        return cls(**data)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def save_artifact(
    folder: Path, model: CreditModel, metadata: ModelMetadata, evaluation: pd.DataFrame | None
) -> Path:
    """Write a version folder; refuses to overwrite an existing one (versions are immutable)."""
    if (folder / MODEL_FILE).exists():
        raise ArtifactError(
            f"artifact folder {folder} already holds a model; versions are immutable"
        )
    folder.mkdir(parents=True, exist_ok=True)
    data = model.to_dict()
    if data["kind"] == LightGBMChallenger.kind:
        (folder / BOOSTER_FILE).write_text(data.pop("booster"), encoding="utf-8")
        data["booster_file"] = BOOSTER_FILE
    (folder / MODEL_FILE).write_text(
        json.dumps(data, ensure_ascii=False, default=_json_default), encoding="utf-8"
    )
    (folder / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
    if evaluation is not None:
        evaluation.to_parquet(folder / EVALUATION_FILE, index=False)
    return folder


def load_model(folder: Path) -> CreditModel:
    """The fitted model in a version folder."""
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ArtifactError(f"no model artifact at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ArtifactError(
            f"{path} is not valid JSON: line {error.lineno}: {error.msg}"
        ) from error
    if "booster_file" in data:
        data["booster"] = (folder / data.pop("booster_file")).read_text(encoding="utf-8")
    return model_from_dict(data)


def load_metadata(folder: Path) -> ModelMetadata:
    """The metadata of a version folder."""
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"no model metadata at {path}")
    return ModelMetadata.from_json(path.read_text(encoding="utf-8"))


def load_evaluation(folder: Path) -> pd.DataFrame:
    """The evaluation frame saved at training time."""
    path = folder / EVALUATION_FILE
    if not path.is_file():
        raise ArtifactError(
            f"no evaluation data at {path}; was the model trained through puhui.models.training?"
        )
    return pd.read_parquet(path)
