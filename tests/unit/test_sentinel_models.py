"""Risk models: one-row scores equal batch scores, JSON round trip, data-farming separation."""

from __future__ import annotations

import numpy as np

from puhui.decisions.sentinel.models import (
    IsolationScorer,
    LogitScorer,
    load_model_specs,
    model_from_dict,
)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 3))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (X[:, 0] + rng.normal(0, 0.5, 600) > 1.3).astype(int)
    return X, y


def test_there_are_at_least_20_models_on_known_features() -> None:
    specs = load_model_specs()
    assert len(specs) >= 20
    assert any(s.kind == "sentinel_iforest" for s in specs)
    assert {"app_fraud", "data_farming", "model_gaming", "graph", "velocity"} <= {
        s.name for s in specs
    }


def test_logit_one_row_matches_batch_and_survives_json() -> None:
    X, y = _data()
    model = LogitScorer(["a", "b", "c"]).fit(X, y)
    batch = model.score_many(X[:50])
    again = model_from_dict(model.to_dict())
    one = [again.score_one(list(row)) for row in X[:50]]
    assert np.allclose(batch, one)
    assert model.score_many(X[y == 1]).mean() > model.score_many(X[y == 0]).mean()


def test_isolation_forest_flags_outliers_and_one_row_matches_batch() -> None:
    X, _ = _data()
    model = IsolationScorer(["a", "b", "c"], trees=20).fit(X)
    outliers = np.array([[8.0, 8.0, -8.0], [-9.0, 7.0, 9.0]])
    assert model.score_many(outliers).min() > np.median(model.score_many(X))
    again = model_from_dict(model.to_dict())
    assert np.allclose(model.score_many(X[:30]), [again.score_one(list(r)) for r in X[:30]])
