"""Scores for the decision (评分): a champion model's PD on a 0–100 scale, or, when no champion
is registered, the enterprise profile's overall sub-score as a documented fallback.

Both answer ``score(uscc, features)`` with a :class:`ScoreResult`; the decision engine does not
know which one it has. Higher scores are better in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from puhui.decisions.products.spec import ScoreScale
from puhui.errors import PuhuiError

FALLBACK_SOURCE = "fallback:profile_overall"
FALLBACK_NOTE = (
    "no champion model registered: score = the enterprise profile's overall sub-score (0–100)"
)


class ScoringError(PuhuiError):
    """A firm could not be scored (no features, or the model failed); names the firm."""


@dataclass(frozen=True)
class ScoreResult:
    score: float  # 0–100, higher is better
    pd: float | None  # the model's probability of default, when a model scored
    source: str  # "champion:<name>" or FALLBACK_SOURCE
    model_versions: Mapping[str, str]
    reasons: tuple[str, ...] = ()
    note: str = ""


class Scorer(Protocol):
    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult: ...

    @property
    def feature_names(self) -> Sequence[str]: ...


def pd_to_score(pd: float, scale: ScoreScale) -> float:
    """PD onto 0–100: ``anchor_score`` at ``anchor_pd``, ``points_per_doubling`` per doubling
    of the good:bad odds."""
    pd = min(max(pd, 1e-6), 1 - 1e-6)
    odds = (1 - pd) / pd
    anchor = (1 - scale.anchor_pd) / scale.anchor_pd
    score = scale.anchor_score + scale.points_per_doubling * math.log2(odds / anchor)
    return min(max(score, 0.0), 100.0)


class ChampionScorer:
    """Scores with a registered champion (``registry.load_champion``) and its reason codes."""

    def __init__(self, model: Any, metadata: Any, scale: ScoreScale) -> None:
        self.model = model
        self.metadata = metadata
        self.scale = scale
        self._versions = {metadata.name: str(metadata.version)}

    @property
    def feature_names(self) -> Sequence[str]:
        return list(self.metadata.features)

    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult:
        return self.score_many({uscc: features})[uscc]

    def score_many(self, firms: Mapping[str, Mapping[str, float | None]]) -> dict[str, ScoreResult]:
        """Score many firms in one model call (what a snapshot's precomputation uses)."""
        import pandas as pd

        names = list(self.metadata.features)
        usccs = list(firms)
        rows = [
            [math.nan if firms[u].get(n) is None else firms[u][n] for n in names] for u in usccs
        ]
        frame = pd.DataFrame(rows, columns=names, dtype="float64")
        try:
            probabilities = self.model.predict_proba(frame)[:, 1]  # columns: [good, bad]
            reasons = self.model.reasons(frame, self.metadata.descriptions or None, top=4)
        except Exception as error:  # a model failure must name the firms and model
            shown = usccs[0] if len(usccs) == 1 else f"{len(usccs)} firms"
            raise ScoringError(
                f"model {self.metadata.name} v{self.metadata.version} failed on {shown}: {error}"
            ) from error
        return {
            uscc: ScoreResult(
                score=pd_to_score(float(probability), self.scale),
                pd=float(probability),
                source=f"champion:{self.metadata.name}",
                model_versions=self._versions,
                reasons=tuple(_reason_text(reason) for reason in firm_reasons),
            )
            for uscc, probability, firm_reasons in zip(usccs, probabilities, reasons, strict=True)
        }


class PrecomputedScorer:
    """Scores computed once for a snapshot's firms (one batch model call); a request is then a
    look-up. The features of a snapshot do not change between requests, so neither do the
    scores; a firm not in the batch is scored live."""

    def __init__(self, live: ChampionScorer, firms: Mapping[str, Mapping[str, float | None]]):
        self.live = live
        self._scores = live.score_many(firms) if firms else {}

    @property
    def feature_names(self) -> Sequence[str]:
        return self.live.feature_names

    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult:
        cached = self._scores.get(uscc)
        return cached if cached is not None else self.live.score(uscc, features)


def _reason_text(reason: Any) -> str:
    for attribute in ("zh", "text", "description", "feature"):
        value = getattr(reason, attribute, None)
        if value:
            return str(value)
    return str(reason)


class ProfileFallbackScorer:
    """The profile's overall sub-score, precomputed for the population of one snapshot."""

    def __init__(self, overall_by_uscc: Mapping[str, float | None]) -> None:
        self._overall = dict(overall_by_uscc)

    @property
    def feature_names(self) -> Sequence[str]:
        return []

    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult:
        value = self._overall.get(uscc)
        if value is None or math.isnan(value):
            # Too little data for a profile: the bottom of the scale, which declines.
            return ScoreResult(0.0, None, FALLBACK_SOURCE, {}, ("画像数据不足",), FALLBACK_NOTE)
        return ScoreResult(float(value), None, FALLBACK_SOURCE, {}, (), FALLBACK_NOTE)
