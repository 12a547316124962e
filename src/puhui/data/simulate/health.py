"""The latent health of every firm, month by month: the cause behind every source.

Health ``h`` is in standard-deviation-like units (0 is an ordinary firm, below −1 is distress,
below ``failure_level`` the firm stops paying its debts). It is the sum of

- a slowly moving level ``m`` that is pulled back towards the firm's quality ``μ`` and knocked
  down by jumps (a lost customer, production stopped by the environment bureau) and by a
  distress spiral (customers leave, suppliers demand cash, the level erodes month by month);
- a transitory AR(1) deviation with the industry's volatility;
- an industry factor (loading = the industry's cyclicality) and a city factor.

Nothing is observed directly; every source reads ``h`` with its own lag and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from puhui.data.reference import cities, divisions
from puhui.data.simulate.config import HealthParameters

NEVER = np.iinfo(np.int32).max  # sentinel month index for "does not happen in the window"
POLLUTING_KWH = 300.0  # kWh per 10k yuan above which the environment bureau takes an interest


@dataclass
class Health:
    """Health paths and the events the health process itself decides."""

    h: np.ndarray  # (n, T) float32
    failure_month: np.ndarray  # month the firm stops paying (NEVER if it does not)
    industry_factor: np.ndarray  # (divisions, T)
    city_factor: np.ndarray  # (cities, T)
    suspension_firm: np.ndarray  # environment-ordered production stops (firm, month)
    suspension_month: np.ndarray
    distress_months: np.ndarray  # months spent in a spiral, per firm (for the report)


def _factors(
    rng: np.random.Generator, count: int, months: int, sd: float, phi: float
) -> np.ndarray:
    """Stationary AR(1) factor paths, one row per industry or city."""
    paths = np.empty((count, months))
    state = rng.normal(0, sd / np.sqrt(1 - phi**2), count)
    for t in range(months):
        state = phi * state + rng.normal(0, sd, count)
        paths[:, t] = state
    return paths


def simulate_health(
    rng: np.random.Generator,
    quality: np.ndarray,
    division: np.ndarray,
    city: np.ndarray,
    founded_month: np.ndarray,
    immune: np.ndarray,
    months: int,
    params: HealthParameters,
) -> Health:
    """Run the health process for ``months`` months for every firm at once.

    ``immune`` firms (shells) keep their health path but never fail through it: their fate is
    decided by the fraud they commit.
    """
    n = len(quality)
    divs = divisions()
    volatility = np.array([d.volatility for d in divs])[division] * params.volatility_scale
    cyclicality = np.array([d.cyclicality for d in divs])[division]
    polluting = np.array([d.kwh_per_10k_yuan >= POLLUTING_KWH for d in divs])[division]
    industry = _factors(rng, len(divs), months, params.industry_shock_sd, params.factor_persistence)
    region = _factors(rng, len(cities()), months, params.city_shock_sd, params.factor_persistence)

    phi = params.transitory_persistence
    deviation = rng.normal(0, 1, n) * volatility / np.sqrt(1 - phi**2)
    level = quality.astype(np.float64).copy()
    # Burn-in: run the level process before the window so the window starts in its steady
    # state (firms already carrying old setbacks), floored clear of distress.
    for _ in range(params.burn_in_months):
        level += params.level_recovery * (quality - level)
        level -= np.where(
            rng.random(n) < params.jump_rate,
            rng.uniform(params.jump_size_min, params.jump_size_max, n),
            0.0,
        )
    level = np.maximum(level, params.distress_level + 0.3)
    # What no source sees: private (民间借贷) debts make some firms fail sooner, an owner's
    # own wealth keeps others going longer.
    failure_level = params.failure_level + rng.normal(0, params.hidden_debt_sd, n)
    spiral = np.zeros(n, dtype=bool)
    failed = np.zeros(n, dtype=bool)
    failure_month = np.full(n, NEVER, dtype=np.int64)
    distress_months = np.zeros(n, dtype=np.int64)
    h = np.empty((n, months), dtype=np.float32)
    susp_firm: list[np.ndarray] = []
    susp_month: list[np.ndarray] = []

    for t in range(months):
        lost_customer = rng.random(n) < params.jump_rate
        suspended = polluting & (rng.random(n) < params.jump_rate / 3)
        jump_size = rng.uniform(params.jump_size_min, params.jump_size_max, n)
        fatal = rng.random(n) < params.fatal_jump_share
        jump_size = np.where(
            fatal, rng.uniform(params.jump_size_max, 2 * params.jump_size_max, n), jump_size
        )
        level += params.level_recovery * (quality - level)
        level -= np.where(lost_customer | suspended, jump_size, 0.0)
        level -= np.where(spiral, params.spiral_drift, 0.0)
        level -= np.where(failed, params.spiral_drift, 0.0)
        deviation = phi * deviation + rng.normal(0, 1, n) * volatility
        current = level + deviation + cyclicality * industry[division, t] + region[city, t]
        alive = founded_month <= t
        current = np.where(alive, current, quality)
        h[:, t] = current

        starts = alive & ~spiral & ~failed & (current < params.distress_level)
        starts &= rng.random(n) < params.spiral_start_rate
        stops = spiral & (rng.random(n) < params.spiral_stop_rate)
        spiral = (spiral | starts) & ~stops
        distress_months += spiral
        newly_failed = alive & ~failed & ~immune & (current < failure_level)
        failure_month[newly_failed] = t
        failed |= newly_failed
        spiral &= ~failed
        hit = np.flatnonzero(suspended & alive)
        susp_firm.append(hit)
        susp_month.append(np.full(len(hit), t))

    return Health(
        h=h,
        failure_month=failure_month,
        industry_factor=industry,
        city_factor=region,
        suspension_firm=np.concatenate(susp_firm),
        suspension_month=np.concatenate(susp_month),
        distress_months=distress_months,
    )


def initial_quality(
    rng: np.random.Generator,
    age_years: np.ndarray,
    larger: np.ndarray,
    params: HealthParameters,
) -> np.ndarray:
    """Firm quality μ: a persistent trait, lower for young firms, higher for larger ones."""
    base = rng.normal(0, params.quality_spread, len(age_years))
    young = params.young_firm_penalty * np.exp(-np.maximum(age_years, 0) / 3.0)
    return params.quality_mean + base - young + 0.15 * larger
