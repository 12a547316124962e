"""The warning policy (预警分级策略, ``policy.yaml``): points, level cut-offs, PD bands, how the
early-warning PD is trained and levelled, deadlines and the de-escalation and closing delays,
validated on load."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.decisions.alarm.spec import LEVELS, SignalLibraryError

POLICY_FILE = Path(__file__).parent / "policy.yaml"
# The models workflow's algorithms (``puhui.models.workflow.ALGORITHMS``), named here so the
# policy validates without importing the model stack.
EW_PD_ALGORITHMS = ("scorecard", "lightgbm", "ebm")
EW_PD_HORIZONS = (3, 6, 12)
# The LightGBM settings an EW-PD may set (``puhui.models.gbm.LightGBMChallenger``'s arguments).
EW_PD_TREE_PARAMS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
)


class EarlyWarningPDPolicy(BaseModel):
    """How ``puhui alarm learn`` trains the EW-PD (预警PD) and how its PD becomes a level.

    ``levels: fixed`` reads the level off ``pd_levels`` (probabilities); ``levels: learned``
    sets the PD cut-offs, like the score's, so that about ``target_shares`` of the training
    borrower-days with a PD reach each level or worse (a ranking model's probabilities need not
    be calibrated for that; ``pd_levels`` stays the fallback when no PD was scored).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["scorecard", "lightgbm", "ebm"] = "scorecard"
    # workflow: IV, correlation clusters and PSI (a scorecard needs them); screen: the strongest
    # by quick IV that are stable (PSI), correlated ones kept (trees do not mind them); all:
    # every feature filled on enough development rows (trees with column sampling)
    selection: Literal["workflow", "screen", "all"] = "workflow"
    max_features: int = Field(20, ge=1, le=500)
    screen_top: int = Field(120, ge=1, le=2000)
    horizons: tuple[int, ...] = EW_PD_HORIZONS
    levels: Literal["fixed", "learned"] = "fixed"
    target_shares: dict[str, float] | None = None
    # features the EW-PD must not learn from (e.g. not point in time)
    exclude_features: tuple[str, ...] = ()
    # > 0: the 12-month model learns "first default lead_days … 365 days after the snapshot",
    # rows closer to their default left out (they teach late signals); 0: the behaviour target
    lead_days: int = Field(0, ge=0, le=300)
    # LightGBM settings over the workflow's (``EW_PD_TREE_PARAMS``); ``monotone``: the catalog's
    # business directions as monotone constraints
    params: dict[str, int | float] = Field(default_factory=dict)
    monotone: bool = True
    # after the time-ordered split has measured it, refit the served model on every training
    # row (development, validation and out-of-time), so it learns from the latest months too
    refit: bool = False

    @model_validator(mode="after")
    def _check(self) -> EarlyWarningPDPolicy:
        unknown_params = sorted(set(self.params) - set(EW_PD_TREE_PARAMS))
        if unknown_params:
            raise ValueError(
                f"params names unknown setting(s) {', '.join(unknown_params)}; "
                f"known: {', '.join(EW_PD_TREE_PARAMS)}"
            )
        if self.params and self.algorithm != "lightgbm":
            raise ValueError(f"params are LightGBM settings; algorithm is {self.algorithm}")
        if not self.monotone and self.algorithm == "scorecard":
            raise ValueError("monotone: false applies to lightgbm or ebm, not to a scorecard")
        if self.selection == "all" and self.algorithm == "scorecard":
            raise ValueError("selection: all suits trees; a scorecard needs selection: workflow")
        if self.max_features > self.screen_top:
            raise ValueError(
                f"max_features ({self.max_features}) cannot exceed screen_top "
                f"({self.screen_top}): features are chosen among the screened ones"
            )
        unknown = sorted(set(self.horizons) - set(EW_PD_HORIZONS))
        if unknown or not self.horizons:
            raise ValueError(f"horizons must be among 3, 6, 12 (got {list(self.horizons)})")
        if self.levels == "learned":
            if self.target_shares is None:
                raise ValueError("levels: learned needs target_shares for every level")
            _check_shares("target_shares", self.target_shares)
        return self


def _check_shares(name: str, shares: dict[str, float]) -> None:
    values = [shares.get(level, -1.0) for level in LEVELS]
    if set(shares) != set(LEVELS) or values != sorted(values, reverse=True):
        raise ValueError(f"{name} must give every level, falling from blue to red")
    if not all(0.0 < v < 1.0 for v in values):
        raise ValueError(f"{name} must be shares strictly between 0 and 1")


class LevelPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    grade_points: dict[str, float]
    score_levels: dict[str, float]
    target_shares: dict[str, float]
    # the score's shares when the training history has no EW-PD (no models or snapshots): the
    # score then carries every level alone
    target_shares_without_pd: dict[str, float] | None = None
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
    ew_pd: EarlyWarningPDPolicy = EarlyWarningPDPolicy()

    @model_validator(mode="after")
    def _check(self) -> LevelPolicy:
        for name in ("grade_points", "score_levels", "pd_levels", "deadline_days"):
            table = getattr(self, name)
            if set(table) != set(LEVELS):
                raise ValueError(f"{name} must give exactly {', '.join(LEVELS)}")
        _check_shares("target_shares", self.target_shares)
        if self.target_shares_without_pd is not None:
            _check_shares("target_shares_without_pd", self.target_shares_without_pd)
        for name in ("score_levels", "pd_levels"):
            values = [getattr(self, name)[level] for level in LEVELS]
            if values != sorted(values):
                raise ValueError(f"{name} must rise from blue to red")
        if self.pd_horizon_months not in EW_PD_HORIZONS:
            raise ValueError("pd_horizon_months must be 3, 6 or 12")
        if self.pd_horizon_months not in self.ew_pd.horizons:
            raise ValueError(
                f"pd_horizon_months {self.pd_horizon_months} must be one of ew_pd.horizons "
                f"{list(self.ew_pd.horizons)}: the level reads that model"
            )
        return self


def score_shares(policy: LevelPolicy, with_pd: bool) -> dict[str, float]:
    """The score's target shares: ``target_shares`` beside an EW-PD, else
    ``target_shares_without_pd`` (when configured)."""
    if with_pd or policy.target_shares_without_pd is None:
        return dict(policy.target_shares)
    return dict(policy.target_shares_without_pd)


def with_cutoffs(
    policy: LevelPolicy,
    cutoffs: Mapping[str, float] | None,
    pd_cutoffs: Mapping[str, float] | None = None,
) -> LevelPolicy:
    """The policy with learned score cut-offs (never below the configured floor) and, when
    ``ew_pd.levels`` is ``learned``, learned PD cut-offs (rising from blue to red)."""
    update: dict[str, dict[str, float]] = {}
    if cutoffs:
        levels = {lvl: max(policy.score_levels[lvl], float(cutoffs[lvl])) for lvl in LEVELS}
        for lower, upper in itertools.pairwise(LEVELS):
            levels[upper] = max(levels[upper], levels[lower] + 0.5)
        update["score_levels"] = levels
    if pd_cutoffs and policy.ew_pd.levels == "learned":
        bands = {lvl: float(pd_cutoffs[lvl]) for lvl in LEVELS}
        for lower, upper in itertools.pairwise(LEVELS):
            bands[upper] = max(bands[upper], bands[lower] + 1e-9)
        update["pd_levels"] = bands
    return policy.model_copy(update=update) if update else policy


@cache
def load_policy(path: Path = POLICY_FILE) -> LevelPolicy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return LevelPolicy.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        raise SignalLibraryError(f"{path.name}: {where}: {first['msg']}") from None
