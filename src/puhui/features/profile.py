"""立体画像 · Sub-scores of the enterprise profile: readable 0–100 condensations of the features.

Each sub-score (经营, 成长, 纳税合规, 创新, 供应链地位, 稳定性, 司法合规风险, 数据一致性) is a
weighted mean of *population percentile ranks* of named features as of the same date, so it
reads the same way for every firm and every date: 50 is the typical peer, higher is better for
credit (for 司法合规风险 higher means SAFER). The definitions are data
(``definitions/subscores/subscores.yaml``), validated against the feature catalog when loaded.

Formula, per firm:

- percentile ``p = 100 × (peers below + ½ × peers tied) / peers with a value`` (mid-rank), among
  all firms of the snapshot, or among the firm's industry for ``peer: industry`` when that
  industry has at least ``min_peers`` firms with a value (else the whole population);
- feature score ``s = p`` (direction +1), ``100 − p`` (direction −1), or
  ``100 − 2 × |p − 50|`` (``shape: typical``: ratios where both extremes are suspicious);
  with ``ties: favourable`` (records where most firms are tied at a clean zero: court cases,
  arrears) ``s = 100 × peers the firm does at least as well as / peers``, so a clean record
  scores 100 instead of the mid-rank's ~50;
- sub-score ``Σ wᵢ sᵢ / Σ wᵢ`` over the features the firm has a value for: a missing feature is
  *excluded with its weight* (``missing: neutral`` scores it 50 instead). When the features with a
  value carry less than ``min_coverage`` of the weight, the sub-score is ``None`` (no data);
- contribution of a feature ``(wᵢ / Σ w) × (sᵢ − 50)``: points it moves the sub-score away from
  50, so the contributions add up to ``sub-score − 50`` and the largest explain *why*;
- overall ``Σ Wₖ × sub-scoreₖ / Σ Wₖ`` over the sub-scores with data.

Everything here is pure computation over Polars frames and values; reading snapshots and the
lake is the service's job (``profile_service``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.errors import PuhuiError
from puhui.features.catalog import FeatureCatalog

NEUTRAL = 50.0
PEER_COLUMN = "peer_group"
BANDS: tuple[tuple[float, str, str], ...] = (
    (80.0, "优", "strong"),
    (60.0, "良", "sound"),
    (40.0, "中", "average"),
    (0.0, "弱", "weak"),
)
STRENGTH_AT = 70.0  # a sub-score at or above this is a strength
CONCERN_BELOW = 40.0  # a sub-score below this is a concern


class SubscoreDefinitionError(PuhuiError):
    """A sub-score definition is invalid; the message names the file and the sub-score."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubscoreFeature(_Strict):
    """One feature of a sub-score and how it is scored."""

    feature: str
    weight: float = Field(gt=0)
    # Only for features whose catalog direction is 0; may not contradict the catalog.
    direction: Literal[-1, 1] | None = None
    shape: Literal["rank", "typical"] = "rank"
    missing: Literal["exclude", "neutral"] = "exclude"


class SubscoreSpec(_Strict):
    zh: str
    en: str
    peer: Literal["population", "industry"] = "population"
    # How firms tied on a value score: "mid" (mid-rank, the default) or "favourable" (a tie
    # counts as beating the peers it ties with: a clean record among mostly clean firms is 100).
    ties: Literal["mid", "favourable"] = "mid"
    features: tuple[SubscoreFeature, ...]


class OverallSpec(_Strict):
    zh: str
    en: str
    weights: dict[str, float]


class ProfileDefinition(_Strict):
    """The validated sub-score definitions (the file's content, checked against the catalog)."""

    min_coverage: float = Field(0.3, ge=0, le=1)
    min_peers: int = Field(30, ge=1)
    subscores: dict[str, SubscoreSpec]
    overall: OverallSpec

    @model_validator(mode="after")
    def _overall_names_subscores(self) -> ProfileDefinition:
        unknown = sorted(set(self.overall.weights) - set(self.subscores))
        if unknown:
            raise ValueError(f"overall.weights: unknown sub-score {unknown[0]!r}")
        return self

    def feature_names(self) -> list[str]:
        """Every feature any sub-score reads, once, in definition order."""
        names: dict[str, None] = {}
        for spec in self.subscores.values():
            for entry in spec.features:
                names[entry.feature] = None
        return list(names)


def default_subscores_file() -> Path:
    return Path(str(resources.files("puhui.features") / "definitions" / "subscores"))


def load_profile_definition(catalog: FeatureCatalog, path: Path | None = None) -> ProfileDefinition:
    """Read and validate the sub-score definitions against ``catalog``."""
    file = path or default_subscores_file() / "subscores.yaml"
    return _load(file.resolve(), catalog)


def _load(file: Path, catalog: FeatureCatalog) -> ProfileDefinition:
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SubscoreDefinitionError(f"{file}: sub-score definitions not found") from None
    except yaml.YAMLError as error:
        raise SubscoreDefinitionError(f"{file.name}: not valid YAML: {error}") from None
    try:
        definition = ProfileDefinition.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SubscoreDefinitionError(f"{file.name}: {where}: {message}") from None
    validate_definition(definition, catalog, file.name)
    return definition


def validate_definition(definition: ProfileDefinition, catalog: FeatureCatalog, where: str) -> None:
    """Every named feature exists and has a usable direction; errors name the sub-score."""
    known = {f.name: f for f in catalog.features}
    for name, spec in definition.subscores.items():
        prefix = f"{where}: sub-score {name}"
        if not spec.features:
            raise SubscoreDefinitionError(f"{prefix}: no features")
        seen: set[str] = set()
        for entry in spec.features:
            feature = known.get(entry.feature)
            if feature is None:
                raise SubscoreDefinitionError(
                    f"{prefix}: unknown feature {entry.feature!r} (not in the feature catalog)"
                )
            if entry.feature in seen:
                raise SubscoreDefinitionError(f"{prefix}: feature {entry.feature} appears twice")
            seen.add(entry.feature)
            if entry.shape == "typical":
                continue
            if entry.direction is not None and feature.direction not in (0, entry.direction):
                raise SubscoreDefinitionError(
                    f"{prefix}: feature {entry.feature}: direction {entry.direction} contradicts "
                    f"the catalog's {feature.direction}"
                )
            if entry.direction is None and feature.direction == 0:
                raise SubscoreDefinitionError(
                    f"{prefix}: feature {entry.feature} has no direction in the catalog; give "
                    "`direction: 1` or `-1`, or `shape: typical`"
                )


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    subscore: str
    feature: str
    weight: float
    sign: int  # +1, -1, or 0 for the "typical" shape
    missing: str
    peer: str
    ties: str


def _rules(definition: ProfileDefinition, catalog: FeatureCatalog) -> list[_Rule]:
    rules = []
    for name, spec in definition.subscores.items():
        for entry in spec.features:
            sign = 0
            if entry.shape == "rank":
                sign = entry.direction or catalog.feature(entry.feature).direction
            rules.append(
                _Rule(name, entry.feature, entry.weight, sign, entry.missing, spec.peer, spec.ties)
            )
    return rules


def percentile_column(feature: str, peer: str) -> str:
    return f"pct|{peer}|{feature}"


def score_column(subscore: str, feature: str) -> str:
    return f"score|{subscore}|{feature}"


def percentile_expression(column: str, over: str | None = None) -> pl.Expr:
    """Mid-rank percentile 0–100 among non-null values (``over`` a peer column when given)."""
    rank = pl.col(column).rank("average")
    count = pl.col(column).count()
    if over is not None:
        rank, count = rank.over(over), count.over(over)
    return (100.0 * (rank - 0.5) / count).cast(pl.Float64)


def favourable_expression(column: str, sign: int, over: str | None = None) -> pl.Expr:
    """Share of peers (0–100) the firm does at least as well as, ties counted in its favour."""
    if sign > 0:
        at_least = pl.col(column).rank("max")  # peers with a value ≤ the firm's
    else:
        at_least = pl.col(column).count() - pl.col(column).rank("min") + 1  # peers with ≥
    count = pl.col(column).count()
    if over is not None:
        at_least, count = at_least.over(over), count.over(over)
    return (100.0 * at_least / count).cast(pl.Float64)


def _among_peers(rule: _Rule, min_peers: int, make: Callable[[str | None], pl.Expr]) -> pl.Expr:
    """``make(None)`` over the population, or ``make(PEER_COLUMN)`` when the industry is big
    enough to be a peer group for this feature."""
    population = make(None)
    if rule.peer != "industry":
        return population
    peers = pl.col(rule.feature).count().over(PEER_COLUMN)
    usable = pl.col(PEER_COLUMN).is_not_null() & (peers >= min_peers)
    return pl.when(usable).then(make(PEER_COLUMN)).otherwise(population)


def _feature_score(percentile: pl.Expr, sign: int) -> pl.Expr:
    if sign > 0:
        return percentile
    if sign < 0:
        return 100.0 - percentile
    return 100.0 - 2.0 * (percentile - NEUTRAL).abs()


def score_features(
    features: pl.DataFrame,
    definition: ProfileDefinition,
    catalog: FeatureCatalog,
    *,
    peer_groups: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per firm: each feature's percentile (per peer mode) and its score in each sub-score.

    ``features`` holds ``uscc`` and the feature columns of one as-of date (the whole population:
    percentiles need it). ``peer_groups`` maps ``uscc`` to ``peer_group`` (the industry).
    """
    rules = _rules(definition, catalog)
    frame = features.select(["uscc", *definition.feature_names()])
    frame = frame.with_columns(pl.col(c).cast(pl.Float64).fill_nan(None) for c in frame.columns[1:])
    if peer_groups is not None:
        frame = frame.join(peer_groups.select("uscc", PEER_COLUMN), on="uscc", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(PEER_COLUMN))
    percentiles: dict[str, pl.Expr] = {}
    for rule in rules:
        name = percentile_column(rule.feature, rule.peer)
        if name not in percentiles:
            make = partial(percentile_expression, rule.feature)
            percentiles[name] = _among_peers(rule, definition.min_peers, make).alias(name)
    frame = frame.with_columns(percentiles.values())
    scores = []
    for rule in rules:
        if rule.ties == "favourable" and rule.sign != 0:
            make = partial(favourable_expression, rule.feature, rule.sign)
            score = _among_peers(rule, definition.min_peers, make)
        else:
            score = _feature_score(pl.col(percentile_column(rule.feature, rule.peer)), rule.sign)
        if rule.missing == "neutral":
            score = score.fill_null(NEUTRAL)
        scores.append(score.alias(score_column(rule.subscore, rule.feature)))
    return frame.with_columns(scores)


def score_population(
    scored: pl.DataFrame, definition: ProfileDefinition, catalog: FeatureCatalog
) -> pl.DataFrame:
    """``uscc``, one column per sub-score and ``overall``, from :func:`score_features` output."""
    columns = []
    for name, spec in definition.subscores.items():
        total = sum(e.weight for e in spec.features)
        weighted, present, covered = [], [], []
        for entry in spec.features:
            score = pl.col(score_column(name, entry.feature))
            weighted.append((score * entry.weight).fill_null(0.0))
            present.append(pl.when(score.is_not_null()).then(entry.weight).otherwise(0.0))
            has_value = pl.col(entry.feature).is_not_null()
            covered.append(pl.when(has_value).then(entry.weight).otherwise(0.0))
        weight_present = pl.sum_horizontal(present)
        enough = pl.sum_horizontal(covered) / total >= definition.min_coverage
        columns.append(
            pl.when(enough & (weight_present > 0))
            .then(pl.sum_horizontal(weighted) / weight_present)
            .otherwise(None)
            .alias(name)
        )
    frame = scored.select(["uscc", *columns])
    weights = definition.overall.weights
    numerator = pl.sum_horizontal((pl.col(n) * w).fill_null(0.0) for n, w in weights.items())
    denominator = pl.sum_horizontal(
        pl.when(pl.col(n).is_not_null()).then(w).otherwise(0.0) for n, w in weights.items()
    )
    overall = pl.when(denominator > 0).then(numerator / denominator).otherwise(None)
    return frame.with_columns(overall.alias("overall"))


# --- one firm, explained ------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """How one feature moved a sub-score: its value, percentile, score and points from 50."""

    feature: str
    zh: str
    en: str
    value: float | None
    percentile: float | None
    score: float | None
    weight: float
    points: float  # (weight / Σ weight present) × (score − 50); 0 when excluded


@dataclass(frozen=True)
class Subscore:
    name: str
    zh: str
    en: str
    score: float | None  # None: too little data (see coverage)
    coverage: float  # share of the weight carried by features with a value
    peer: str
    contributions: tuple[Contribution, ...]  # largest |points| first

    def top(self, n: int = 3) -> tuple[Contribution, ...]:
        return tuple(c for c in self.contributions if c.points != 0)[:n]


@dataclass(frozen=True)
class ProfileScores:
    subscores: tuple[Subscore, ...]
    overall: float | None
    band: str | None  # 优 / 良 / 中 / 弱
    band_en: str | None
    strengths: tuple[str, ...]  # sub-score names at or above STRENGTH_AT, best first
    concerns: tuple[str, ...]  # sub-score names below CONCERN_BELOW, worst first


def band_of(score: float | None) -> tuple[str | None, str | None]:
    if score is None:
        return None, None
    for floor, zh, en in BANDS:
        if score >= floor:
            return zh, en
    return BANDS[-1][1], BANDS[-1][2]


def explain(
    row: Mapping[str, object], definition: ProfileDefinition, catalog: FeatureCatalog
) -> ProfileScores:
    """The sub-scores of one firm with their contributions, from one :func:`score_features` row."""
    subscores = []
    for name, spec in definition.subscores.items():
        total = sum(e.weight for e in spec.features)
        items = []
        for entry in spec.features:
            score = _float(row.get(score_column(name, entry.feature)))
            items.append((entry, score))
        present = sum(e.weight for e, s in items if s is not None)
        covered = sum(e.weight for e, _ in items if _float(row.get(e.feature)) is not None)
        coverage = covered / total
        value = None
        if present > 0 and coverage >= definition.min_coverage:
            value = sum(e.weight * s for e, s in items if s is not None) / present
        contributions = []
        for entry, score in items:
            feature = catalog.feature(entry.feature)
            points = 0.0
            if value is not None and score is not None:
                points = entry.weight / present * (score - NEUTRAL)
            contributions.append(
                Contribution(
                    feature=entry.feature,
                    zh=feature.zh,
                    en=feature.en,
                    value=_float(row.get(entry.feature)),
                    percentile=_float(row.get(percentile_column(entry.feature, spec.peer))),
                    score=score,
                    weight=entry.weight,
                    points=points,
                )
            )
        contributions.sort(key=lambda c: -abs(c.points))
        subscores.append(
            Subscore(name, spec.zh, spec.en, value, coverage, spec.peer, tuple(contributions))
        )
    weights = definition.overall.weights
    scored = [(s, weights[s.name]) for s in subscores if s.score is not None and s.name in weights]
    weight = sum(w for _, w in scored)
    total = sum(s.score * w for s, w in scored if s.score is not None)
    overall = total / weight if weight else None
    band, band_en = band_of(overall)
    ranked = sorted((s for s in subscores if s.score is not None), key=lambda s: -(s.score or 0))
    strengths = tuple(s.name for s in ranked if (s.score or 0) >= STRENGTH_AT)
    concerns = tuple(s.name for s in reversed(ranked) if (s.score or 0) < CONCERN_BELOW)
    return ProfileScores(tuple(subscores), overall, band, band_en, strengths, concerns)


def _float(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number  # NaN counts as missing
