"""What a simulation run is asked to do, and the causal model's tunable parameters.

Every number that shapes the synthetic province lives here (or in the reference YAML), so a
run is reproducible from its config alone and ``province.json`` records exactly what was used.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from puhui.errors import PuhuiError

MIN_ENTERPRISES = 100
MIN_MONTHS = 13


class SimulationConfigError(PuhuiError):
    """A simulation was asked for something it cannot build; the message names the setting."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassificationRules(_Frozen):
    """五级分类 day thresholds (2023 rules): overdue beyond these days is 次级, 可疑, 损失."""

    substandard_days: int = Field(90, ge=1)
    doubtful_days: int = Field(270, ge=1)
    loss_days: int = Field(360, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ClassificationRules:
        if not self.substandard_days < self.doubtful_days < self.loss_days:
            raise ValueError("need substandard_days < doubtful_days < loss_days")
        return self


class HealthParameters(_Frozen):
    """The latent monthly health process (see docs/SIMULATION.md, 'Health')."""

    quality_mean: float = Field(1.7, description="mean firm-level health level")
    quality_spread: float = Field(0.7, description="sd of the firm-level health level")
    young_firm_penalty: float = Field(0.6, description="level lost by a firm founded this year")
    transitory_persistence: float = Field(0.85, description="AR(1) coefficient of deviations")
    volatility_scale: float = Field(5.0, description="industry volatility → health-unit noise")
    level_recovery: float = Field(0.03, description="monthly pull of the level back to quality")
    industry_shock_sd: float = Field(0.10, description="monthly innovation of industry factors")
    city_shock_sd: float = Field(0.07, description="monthly innovation of city factors")
    factor_persistence: float = Field(0.93, description="AR(1) of industry and city factors")
    jump_rate: float = Field(0.006, description="monthly chance of losing a big customer")
    jump_size_min: float = Field(1.0)
    jump_size_max: float = Field(2.8)
    fatal_jump_share: float = Field(0.22, description="share of setbacks that are catastrophic")
    distress_level: float = Field(-1.5, description="health below which a spiral may start")
    spiral_start_rate: float = Field(
        0.25, description="monthly chance distress turns into a spiral"
    )
    spiral_drift: float = Field(0.3, description="monthly erosion of the level in a spiral")
    spiral_stop_rate: float = Field(0.2, description="monthly chance a spiral stabilises")
    burn_in_months: int = Field(36, ge=0, description="months of history run before the window")
    hidden_debt_sd: float = Field(
        0.6, description="sd of the unobserved shift of a firm's breaking point"
    )
    failure_level: float = Field(-2.6, description="health below which the firm stops paying")


class PopulationShares(_Frozen):
    """Who the firms are, as shares of all enterprises."""

    revenue_scale: float = Field(
        0.4, description="whole registered population vs the SME medians in industries.yaml"
    )
    bank_customer: float = Field(0.30, ge=0, le=1)
    borrower_at_start: float = Field(0.12, ge=0, le=1)
    ever_borrowed: float = Field(0.65, ge=0, le=1)
    exporter_scale: float = Field(1.0, ge=0)
    utilities_matched: float = Field(0.85, ge=0, le=1)
    social_registered: float = Field(0.9, ge=0, le=1)
    monthly_missing: float = Field(0.015, ge=0, le=0.5, description="share of source-months lost")


class FraudRates(_Frozen):
    """How much fraud the province holds; counts are fixed from N so rates are stable."""

    rings_per_10k: float = Field(4.0, ge=0, description="shell-company rings per 10,000 firms")
    ring_size_min: int = Field(3, ge=2)
    ring_size_max: int = Field(7, ge=2)
    data_farming_per_10k: float = Field(12.0, ge=0)
    identity_theft_per_10k: float = Field(8.0, ge=0)
    probing_per_10k: float = Field(6.0, ge=0)
    blacklist_share: float = Field(0.4, ge=0, le=1, description="ring identifiers on 神荼")


class SimulationConfig(_Frozen):
    """A synthetic province: how many firms, over which months, from which seed."""

    enterprises: int = Field(10_000, ge=MIN_ENTERPRISES, le=5_000_000)
    months: int = Field(36, ge=MIN_MONTHS, le=120)
    seed: int = Field(20260601, ge=0)
    end_month: str = Field("2026-06", description="last month covered, YYYY-MM (fixed default)")
    chunk_size: int = Field(
        50_000,
        ge=1_000,
        description="firms per block of sources; each block has its own random streams, so "
        "another block size gives another (equally valid) province",
    )
    realism_sample: int = Field(60_000, ge=1_000, description="firms scored by the realism report")
    classification: ClassificationRules = ClassificationRules()
    health: HealthParameters = HealthParameters()
    shares: PopulationShares = PopulationShares()
    fraud: FraudRates = FraudRates()

    @field_validator("end_month")
    @classmethod
    def _month(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{4})-(\d{2})", value)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)):
            raise ValueError(f"end_month must be YYYY-MM, got {value!r}")
        return value


def build_config(**values: object) -> SimulationConfig:
    """A validated config, or a one-line :class:`SimulationConfigError` naming the setting."""
    try:
        return SimulationConfig(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        message = first["msg"].removeprefix("Value error, ")
        if where == "enterprises" and first["type"] == "greater_than_equal":
            message = f"need at least {MIN_ENTERPRISES} enterprises for a meaningful province"
        if where == "months" and first["type"] == "greater_than_equal":
            message = f"need at least {MIN_MONTHS} months (a year of history plus one)"
        raise SimulationConfigError(f"{where}: {message}") from error
