"""The warning policy (预警分级策略, ``policy.yaml``): points, level cut-offs, PD bands,
deadlines and the de-escalation and closing delays, validated on load."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from puhui.decisions.alarm.spec import LEVELS, SignalLibraryError

POLICY_FILE = Path(__file__).parent / "policy.yaml"


class LevelPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    grade_points: dict[str, float]
    score_levels: dict[str, float]
    target_shares: dict[str, float]
    pd_horizon_months: int
    pd_levels: dict[str, float]
    combination_min_lift: float
    combination_points: float
    deadline_days: dict[str, int]
    deescalate_after_days: int
    close_after_days: int
    escalate_overdue_after_days: int
    # how ``puhui alarm learn`` weighs signals: one lift per signal, or a jointly fitted model
    weighting: Literal["lift", "fitted"] = "lift"
    fit_min_lead_days: int = 60
    fit_horizon_days: int = 365
    fit_strength: float = 0.05
    fit_scale: float = 4.0
    persistence_days: int = 91

    @model_validator(mode="after")
    def _check(self) -> LevelPolicy:
        for name in ("grade_points", "score_levels", "pd_levels", "deadline_days"):
            table = getattr(self, name)
            if set(table) != set(LEVELS):
                raise ValueError(f"{name} must give exactly {', '.join(LEVELS)}")
        shares = [self.target_shares.get(level, -1) for level in LEVELS]
        if set(self.target_shares) != set(LEVELS) or shares != sorted(shares, reverse=True):
            raise ValueError("target_shares must give every level, falling from blue to red")
        for name in ("score_levels", "pd_levels"):
            values = [getattr(self, name)[level] for level in LEVELS]
            if values != sorted(values):
                raise ValueError(f"{name} must rise from blue to red")
        if self.pd_horizon_months not in (3, 6, 12):
            raise ValueError("pd_horizon_months must be 3, 6 or 12")
        return self


def with_cutoffs(policy: LevelPolicy, cutoffs: dict[str, float] | None) -> LevelPolicy:
    """The policy with learned score cut-offs (never below the configured floor)."""
    if not cutoffs:
        return policy
    levels = {lvl: max(policy.score_levels[lvl], float(cutoffs[lvl])) for lvl in LEVELS}
    for lower, upper in itertools.pairwise(LEVELS):
        levels[upper] = max(levels[upper], levels[lower] + 0.5)
    return policy.model_copy(update={"score_levels": levels})


@cache
def load_policy(path: Path = POLICY_FILE) -> LevelPolicy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return LevelPolicy.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        raise SignalLibraryError(f"{path.name}: {where}: {first['msg']}") from None
