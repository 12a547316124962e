"""营销反馈指标 · conversion by score decile, the gains curve and lift (pure).

Input is one row per firm that was (or, in an evaluation, would have been) contacted, with its
decile of expected value (1 = top), whether it converted (a loan disbursed) and whether it was
on any themed list. Lift over random compares with the conversion of the whole population (a
list drawn at random from it converts at that rate on average); lift over the themed lists
compares with the conversion of firms picked by theme alone, without screening or scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

DECILE = "decile"
CONVERTED = "converted"
ON_THEME = "on_theme"


@dataclass(frozen=True)
class DecileRow:
    decile: int
    firms: int
    converted: int
    conversion: float
    lift: float  # conversion / the population's conversion


@dataclass(frozen=True)
class GainsPoint:
    share_of_list: float  # the top x of the list by expected value (0.1 … 1.0)
    firms: int
    converted: int
    share_of_conversions: float  # cumulative share of all conversions captured
    conversion: float  # cumulative conversion of the top x
    lift: float


@dataclass(frozen=True)
class LiftSummary:
    firms: int
    converted: int
    random_conversion: float
    top_decile_conversion: float
    themed_conversion: float | None
    themed_firms: int
    lift_over_random: float
    lift_over_themes: float | None


def _rate(converted: int, firms: int) -> float:
    return converted / firms if firms else 0.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def conversion_by_decile(frame: pl.DataFrame) -> list[DecileRow]:
    """Firms, conversions, conversion and lift per decile (deciles without firms are left out)."""
    overall = _rate(int(frame[CONVERTED].sum()), frame.height)
    grouped = (
        frame.group_by(DECILE)
        .agg(pl.len().alias("firms"), pl.col(CONVERTED).cast(pl.Int64).sum().alias("converted"))
        .sort(DECILE)
    )
    rows = []
    for decile, firms, converted in grouped.iter_rows():
        if decile is None:
            continue
        rate = _rate(converted, firms)
        rows.append(DecileRow(int(decile), firms, converted, rate, _ratio(rate, overall)))
    return rows


def gains_curve(frame: pl.DataFrame, points: int = 10) -> list[GainsPoint]:
    """Cumulative conversions captured by the top 10 %, 20 %, … of the list (by decile, then
    by the order given)."""
    ordered = frame.with_row_index("_order").sort([DECILE, "_order"], nulls_last=True)
    total = int(ordered[CONVERTED].sum())
    n = ordered.height
    overall = _rate(total, n)
    cumulative = ordered[CONVERTED].cast(pl.Int64).cum_sum().to_list()
    out = []
    for k in range(1, points + 1):
        size = round(n * k / points)
        converted = int(cumulative[size - 1]) if size else 0
        rate = _rate(converted, size)
        out.append(
            GainsPoint(
                share_of_list=k / points,
                firms=size,
                converted=converted,
                share_of_conversions=_ratio(converted, total),
                conversion=rate,
                lift=_ratio(rate, overall),
            )
        )
    return out


def lift_summary(frame: pl.DataFrame) -> LiftSummary:
    """Top-decile conversion against a random list and against the themed lists alone."""
    n = frame.height
    converted = int(frame[CONVERTED].sum())
    random_rate = _rate(converted, n)
    top = frame.filter(pl.col(DECILE) == 1)
    top_rate = _rate(int(top[CONVERTED].sum()), top.height)
    themed_rate: float | None = None
    themed_firms = 0
    if ON_THEME in frame.columns:
        themed = frame.filter(pl.col(ON_THEME))
        themed_firms = themed.height
        themed_rate = _rate(int(themed[CONVERTED].sum()), themed.height) if themed.height else None
    return LiftSummary(
        firms=n,
        converted=converted,
        random_conversion=random_rate,
        top_decile_conversion=top_rate,
        themed_conversion=themed_rate,
        themed_firms=themed_firms,
        lift_over_random=_ratio(top_rate, random_rate),
        lift_over_themes=None if not themed_rate else top_rate / themed_rate,
    )


@dataclass(frozen=True)
class ExpectedLift:
    """Top-decile lift when each firm's chance of converting is known (an evaluation on the
    synthetic province): no sampling noise, so two rankings compare exactly."""

    firms: int
    expected_conversion: float  # the whole population's (a random list's) expected conversion
    top_decile_conversion: float
    themed_conversion: float | None
    lift: float
    lift_over_themes: float | None
    gains: list[tuple[float, float, float]]  # (share of list, share of conversions, lift)


def deciles_by(frame: pl.DataFrame, score: str, *, name: str = DECILE) -> pl.DataFrame:
    """``name`` = decile of ``score`` (1 = highest; ties broken by ``uscc``), cut as the
    lists cut theirs: row i of n is in decile i × 10 // n + 1."""
    ordered = frame.sort([score, "uscc"], descending=[True, False], maintain_order=True)
    n = ordered.height
    return ordered.with_columns(
        ((pl.int_range(0, n, dtype=pl.Int64) * 10) // max(n, 1) + 1).cast(pl.Int32).alias(name)
    )


def expected_lift(frame: pl.DataFrame, probability: str, points: int = 10) -> ExpectedLift:
    """Lift of the ``decile`` ordering when ``probability`` is each firm's chance to convert;
    ``on_theme`` (optional) marks the firms of the themed lists."""
    ordered = frame.sort([DECILE, "uscc"], maintain_order=True)
    n = ordered.height
    p = ordered[probability].fill_null(0.0).cast(pl.Float64)
    overall = float(p.mean() or 0.0) if n else 0.0
    top = ordered.filter(pl.col(DECILE) == 1)[probability].fill_null(0.0)
    top_rate = float(top.mean() or 0.0) if top.len() else 0.0
    themed_rate: float | None = None
    if ON_THEME in ordered.columns:
        themed = ordered.filter(pl.col(ON_THEME))[probability].fill_null(0.0)
        themed_rate = float(themed.mean() or 0.0) if themed.len() else None
    cumulative = p.cum_sum().to_list()
    total = cumulative[-1] if cumulative else 0.0
    gains = []
    for k in range(1, points + 1):
        size = round(n * k / points)
        got = cumulative[size - 1] if size else 0.0
        gains.append((k / points, _ratio(got, total), _ratio(_ratio(got, size), overall)))
    return ExpectedLift(
        firms=n,
        expected_conversion=overall,
        top_decile_conversion=top_rate,
        themed_conversion=themed_rate,
        lift=_ratio(top_rate, overall),
        lift_over_themes=_ratio(top_rate, themed_rate) if themed_rate else None,
        gains=gains,
    )
