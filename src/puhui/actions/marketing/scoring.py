"""The two probabilities of expected value, from registered champions (评分):
P(bad) from the credit model (``application_pd`` by default) and P(take-up) from the
propensity model, each scored in batches straight from a feature frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from puhui.errors import PuhuiError

BATCH_ROWS = 250_000


class MissingModelError(PuhuiError):
    """A model expected value needs has no champion in the registry; names it and the fix."""


@dataclass(frozen=True)
class LoadedModel:
    """A champion ready to score: the fitted model, its features and its version."""

    name: str
    version: str
    model: Any
    features: tuple[str, ...]

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """P(event) for every row of ``frame`` (missing feature columns count as missing)."""
        out = np.empty(frame.height, dtype=np.float64)
        names = list(self.features)
        for start in range(0, frame.height, BATCH_ROWS):
            part = frame.slice(start, BATCH_ROWS)
            present = [n for n in names if n in part.columns]
            values = part.select(
                [pl.col(n).cast(pl.Float64) for n in present]
                + [pl.lit(None, dtype=pl.Float64).alias(n) for n in names if n not in present]
            ).select(names)
            pandas = values.to_pandas()
            out[start : start + part.height] = self.model.predict_proba(pandas)[:, 1]
        return out


def load_champion_model(registry: Any, name: str, command: str) -> LoadedModel:
    """The champion called ``name`` or an error saying how to make one (``command``)."""
    from puhui.models.errors import ModelError

    try:
        model, metadata = registry.load_champion(name)
    except ModelError as error:
        raise MissingModelError(
            f"no champion model {name!r} in the registry ({error}); run `{command}`"
        ) from None
    return LoadedModel(name, str(metadata.version), model, tuple(metadata.features))
