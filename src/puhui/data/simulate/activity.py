"""What a block of firms actually does each month: the truth every source then observes.

Real revenue follows the industry's seasonality (the Spring Festival dip), the firm's growth
trend and its health (a firm at −2 sells about 45% less than at 0), and fades after failure.
Declared revenue is what the tax bureau hears: usually a little less than the truth, inflated
by data farmers before they apply, and invented from nothing by shell companies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from puhui.data.simulate.fraud import farming_multiplier
from puhui.data.simulate.health import NEVER
from puhui.data.simulate.world import World

REVENUE_HEALTH_ELASTICITY = 0.3
# Calendar-month revenue factors: Spring Festival in Jan/Feb, a year-end push.
SEASON = np.array([0.95, 0.72, 1.0, 1.0, 1.0, 1.0, 0.98, 0.97, 1.02, 1.02, 1.08, 1.26])
RETAIL_SEASON = np.array([1.2, 1.05, 0.92, 0.92, 0.98, 1.0, 0.95, 0.95, 0.98, 1.05, 1.0, 1.0])


@dataclass
class Chunk:
    """Firms ``lo``..``hi`` over every window month, as (firms, months) arrays."""

    index: int
    lo: int
    hi: int
    h: np.ndarray
    alive: np.ndarray  # registered and not yet struck off
    failed: np.ndarray  # past the month it stopped paying
    since_failure: np.ndarray  # months since failure (negative before, large if never)
    revenue: np.ndarray  # real monthly revenue (yuan)
    declared: np.ndarray  # declared to the tax bureau (yuan)
    farming: np.ndarray  # data-farming inflation factor (1 outside farming)
    uscc: pa.Array

    @property
    def n(self) -> int:
        return self.hi - self.lo

    @property
    def firms(self) -> np.ndarray:
        return np.arange(self.lo, self.hi)


def lagged(values: np.ndarray, lag: int) -> np.ndarray:
    """``values`` shifted ``lag`` months later along axis 1 (the first months repeat month 0)."""
    if lag <= 0:
        return values
    out = np.empty_like(values)
    out[:, lag:] = values[:, :-lag]
    out[:, :lag] = values[:, :1]
    return out


def make_chunk(world: World, index: int, lo: int, hi: int, rng: np.random.Generator) -> Chunk:
    """Real and declared revenue for firms ``lo``..``hi``."""
    firms, tl = world.firms, world.timeline
    months = tl.months
    t = np.arange(months)
    h = world.health.h[lo:hi].astype(np.float64)
    founded = firms.founded_month[lo:hi, None]
    alive = (t >= founded) & (t < firms.closed_month[lo:hi, None])
    failure = world.health.failure_month[lo:hi, None]
    since = np.where(failure < NEVER, t - np.minimum(failure, months * 4), -NEVER)
    failed = since >= 0

    retail = np.isin(firms.sector[lo:hi], ["retail", "hospitality"])[:, None]
    season = np.where(retail, RETAIL_SEASON[tl.calendar_month - 1], SEASON[tl.calendar_month - 1])
    trend = np.exp(firms.growth[lo:hi, None] * (t - months / 2) / 12)
    health_effect = np.exp(REVENUE_HEALTH_ELASTICITY * (h - firms.quality[lo:hi, None]))
    ramp_up = np.clip((t - founded + 1) / 6.0, 0.2, 1.0)  # a new firm takes months to get going
    noise = np.exp(rng.normal(0, 0.12, h.shape))
    fade = np.where(failed, np.exp(-0.35 * np.maximum(since + 1, 0)), 1.0)
    revenue = firms.revenue[lo:hi, None] / 12 * season * trend * health_effect * ramp_up * noise
    revenue = np.where(alive, revenue * fade, 0.0)

    shell = firms.is_shell[lo:hi]
    revenue[shell] = 0.0
    farming = farming_multiplier(world.real_fraud, lo, hi, months)
    honesty = rng.uniform(0.78, 1.0, hi - lo)[:, None]
    declared = revenue * honesty * farming
    ring_month = world.rings.apply_month[np.maximum(firms.ring[lo:hi], 0)][:, None]
    invented = firms.revenue[lo:hi, None] / 12 * np.exp(rng.normal(0, 0.3, h.shape))
    shell_active = shell[:, None] & alive & (t <= ring_month + 1)
    declared = np.where(shell_active, invented, declared)
    return Chunk(
        index,
        lo,
        hi,
        h,
        alive,
        failed,
        since,
        revenue,
        declared,
        farming,
        pa.array(firms.uscc[lo:hi]),
    )


def present(
    chunk: Chunk, mask: np.ndarray, rng: np.random.Generator, missing: float
) -> tuple[np.ndarray, np.ndarray]:
    """(local firm, month) of the rows a monthly source delivers: ``mask`` minus lost months."""
    keep = mask & (rng.random(mask.shape) >= missing)
    rows, cols = np.nonzero(keep)
    return rows, cols


def arrears_flags(
    strain: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    firm_sd: float,
    month_sd: float,
) -> np.ndarray:
    """Whether a bill goes unpaid: strain plus firm habit and month noise above a threshold.

    The firm term makes some sound firms habitually late and some weak firms punctual, which
    is why no single arrears flag separates defaulters from the rest.
    """
    habit = rng.normal(0, firm_sd, (strain.shape[0], 1))
    wobble = rng.normal(0, month_sd, strain.shape)
    wobble[:, 1:] = 0.6 * wobble[:, 1:] + 0.8 * wobble[:, :-1]
    return strain + habit + wobble > threshold


def run_length(flags: np.ndarray) -> np.ndarray:
    """Consecutive months each flag has been on (0 where off)."""
    out = np.zeros(flags.shape, dtype=np.int64)
    running = np.zeros(flags.shape[0], dtype=np.int64)
    for t in range(flags.shape[1]):
        running = np.where(flags[:, t], running + 1, 0)
        out[:, t] = running
    return out
