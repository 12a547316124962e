"""联合模型 · the joint model's PD (bank + government platform, federated) in the bank's decisions.

The federated model scores today's firms in one batch (``puhui.federated.joint_scores``); the
platform computes its share for all of them and never learns which firm applies or is marketed
to. A decision or a marketing list then blends that PD with the bank's own champion in log-odds:

    logit(PD) = (1 − w)·logit(PD_champion) + w·logit(PD_joint)

with the weight ``w`` a setting (``PUHUI_JOINT_MODEL_WEIGHT``; 0 leaves decisions unchanged and
only reports the joint PD). A firm the joint model did not score keeps the champion's PD. Pure:
no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import polars as pl

from puhui.decisions.products.spec import ScoreScale
from puhui.decisions.scoring import Scorer, ScoreResult, pd_to_score
from puhui.errors import PuhuiError

JOINT_VERSION_KEY = "joint_lr"
_EDGE = 1e-6


class JointModelError(PuhuiError):
    """A joint-model setting or score out of range; names the value."""


def check_weight(weight: float) -> float:
    if not 0.0 <= weight <= 1.0:
        raise JointModelError(f"joint model weight {weight} must lie in [0, 1]")
    return weight


def _logit(probability: float) -> float:
    p = min(max(probability, _EDGE), 1 - _EDGE)
    return math.log(p / (1 - p))


def blend_pd(champion_pd: float | None, joint_pd: float | None, weight: float) -> float | None:
    """The blended PD; the champion's alone when there is no joint PD, the joint one alone when
    there is no champion PD (the profile fallback has none)."""
    if joint_pd is None or math.isnan(joint_pd):
        return champion_pd
    if champion_pd is None:
        return joint_pd
    z = (1 - weight) * _logit(champion_pd) + weight * _logit(joint_pd)
    return 1.0 / (1.0 + math.exp(-z))


def blend_pd_expression(champion: str, joint: str, weight: float) -> pl.Expr:
    """``blend_pd`` over Polars columns (for marketing lists): null joint PD keeps the champion."""
    check_weight(weight)

    def logit(column: str) -> pl.Expr:
        p = pl.col(column).clip(_EDGE, 1 - _EDGE)
        return (p / (1 - p)).log()

    blended = 1 / (1 + (-((1 - weight) * logit(champion) + weight * logit(joint))).exp())
    return (
        pl.when(pl.col(joint).is_null() | pl.col(joint).is_nan())
        .then(pl.col(champion))
        .when(pl.col(champion).is_null())
        .then(pl.col(joint))
        .otherwise(blended)
    )


class JointModelScorer:
    """Wraps the decision's scorer: adds the joint PD to firms the joint model scored today."""

    def __init__(
        self,
        inner: Scorer,
        joint_pd: Mapping[str, float],
        *,
        weight: float,
        model_job: str,
        scale: ScoreScale,
    ) -> None:
        self.inner = inner
        self.joint_pd = dict(joint_pd)
        self.weight = check_weight(weight)
        self.model_job = model_job
        self.scale = scale

    @property
    def feature_names(self) -> Sequence[str]:
        return self.inner.feature_names

    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult:
        result = self.inner.score(uscc, features)
        joint = self.joint_pd.get(uscc)
        if joint is None:
            return result
        reported = replace(
            result,
            model_versions={**result.model_versions, JOINT_VERSION_KEY: self.model_job},
            reasons=(*result.reasons, f"联合建模PD {joint:.1%}（政务平台数据，可用不可见）"),
        )
        if self.weight == 0.0:
            return reported
        pd = blend_pd(result.pd, joint, self.weight)
        assert pd is not None  # joint is not None
        return replace(
            reported,
            score=pd_to_score(pd, self.scale),
            pd=pd,
            source=f"{result.source}+joint(w={self.weight:g})",
        )
