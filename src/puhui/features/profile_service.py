"""企业立体画像 · Assemble one firm's 360 profile as of a date from the feature snapshot and lake.

The use case behind ``puhui profile`` and ``GET /api/v1/enterprises/{uscc}/profile``: check the
USCC, find the snapshot, score the population (percentiles need every firm of the date), explain
the firm's sub-scores, add its trends, related parties and flags. Personal data is always masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from puhui.data.identifiers import is_valid_uscc
from puhui.data.lake import Lake, TableNotInLakeError
from puhui.data.reference import cities, divisions
from puhui.errors import PuhuiError
from puhui.features.catalog import FeatureCatalog, load_feature_catalog
from puhui.features.profile import (
    PEER_COLUMN,
    ProfileDefinition,
    ProfileScores,
    band_of,
    explain,
    load_profile_definition,
    score_features,
)
from puhui.features.profile_flags import raised_flags
from puhui.features.profile_parties import related_parties
from puhui.features.profile_schema import (
    EnterpriseProfile,
    FeatureContribution,
    KeyFeatureTrend,
    MonthValue,
    Registration,
    SubscoreView,
    Summary,
)
from puhui.features.store import FEATURES_FILE, available_dates, load_features, snapshot_dir
from puhui.features.timing import add_months, anchor_month

TREND_MONTHS = 12
TOP_CONTRIBUTORS = 3


class ProfileError(PuhuiError):
    """A profile cannot be produced; the message names the firm, the date or the snapshot."""


class MalformedUsccError(ProfileError):
    """The code is not an 18-character USCC with a correct check character (GB 32100)."""


class UnknownEnterpriseError(ProfileError):
    """No firm with this USCC was registered before the profile date."""


class NoSnapshotError(ProfileError):
    """No feature snapshot exists for the date asked for."""


@dataclass(frozen=True)
class KeyMetric:
    """A headline metric: its monthly column in the lake and its features in the store."""

    name: str
    zh: str
    en: str
    unit: str
    table: str
    column: str
    aggregate: str  # how months combine: sum (flows) or mean (levels such as headcount)
    last_3m: str
    last_12m: str
    slope: str
    growth_yoy: str


KEY_METRICS: tuple[KeyMetric, ...] = (
    KeyMetric(
        "declared_revenue", "申报销售收入", "declared revenue", "元", "tax_monthly",
        "declared_revenue", "sum", "tax_declared_revenue_sum_3m",
        "tax_declared_revenue_sum_12m", "tax_declared_revenue_slope_12m",
        "tax_declared_revenue_yoy_12m",
    ),
    KeyMetric(
        "bank_inflow", "行内入账", "money in at the bank", "元", "bank_account_monthly",
        "inflow_amount", "sum", "bank_inflow_amount_sum_3m", "bank_inflow_amount_sum_12m",
        "bank_inflow_amount_slope_12m", "bank_inflow_amount_yoy_12m",
    ),
    KeyMetric(
        "electricity", "用电量", "electricity used", "kWh", "utility_monthly",
        "electricity_kwh", "sum", "utility_electricity_kwh_sum_3m",
        "utility_electricity_kwh_sum_12m", "utility_electricity_kwh_slope_12m",
        "utility_electricity_kwh_yoy_12m",
    ),
    KeyMetric(
        "headcount", "参保人数", "insured employees", "人", "social_monthly",
        "insured_headcount", "mean", "social_insured_headcount_mean_3m",
        "social_insured_headcount_mean_12m", "social_insured_headcount_slope_12m",
        "social_insured_headcount_yoy_12m",
    ),
)  # fmt: skip


def check_uscc(uscc: str) -> str:
    """The USCC, upper-cased and checked (GB 32100 check character)."""
    code = uscc.strip().upper()
    if not is_valid_uscc(code):
        raise MalformedUsccError(
            f"{uscc!r} is not a valid 统一社会信用代码 (USCC): 18 characters with a correct "
            "check character are required"
        )
    return code


class ProfileService:
    """Profiles from one lake and one feature store; population scores are kept per snapshot."""

    def __init__(
        self,
        lake: Lake,
        features_root: Path,
        catalog: FeatureCatalog | None = None,
        definition: ProfileDefinition | None = None,
    ) -> None:
        self.lake = lake
        self.features_root = features_root
        self.catalog = catalog or load_feature_catalog()
        self.definition = definition or load_profile_definition(self.catalog)
        self._scored: dict[tuple[date, int], pl.DataFrame] = {}
        for metric in KEY_METRICS:
            for feature in (metric.last_3m, metric.last_12m, metric.slope, metric.growth_yoy):
                if feature not in self.catalog.names:
                    raise ProfileError(f"key metric {metric.name}: unknown feature {feature!r}")

    def latest_date(self) -> date:
        """The latest as-of date with a feature snapshot."""
        dates = available_dates(self.features_root)
        if not dates:
            raise NoSnapshotError(
                f"no feature snapshot in {self.features_root}; run "
                "`puhui features build --as-of YYYY-MM-DD`"
            )
        return dates[-1]

    def profile(self, uscc: str, as_of: date | None = None) -> EnterpriseProfile:
        """The profile of ``uscc`` as of ``as_of`` (default: the latest snapshot)."""
        code = check_uscc(uscc)
        as_of = as_of or self.latest_date()
        firm = self._registration_row(code, as_of)
        scored = self._population(as_of)
        scored_row = scored.filter(pl.col("uscc") == code)
        if scored_row.is_empty():
            raise UnknownEnterpriseError(
                f"enterprise {code} has no row in the feature snapshot as of {as_of.isoformat()} "
                f"(rebuild it: `puhui features build --as-of {as_of.isoformat()} --force`)"
            )
        scores = explain(scored_row.row(0, named=True), self.definition, self.catalog)
        features = load_features(self.features_root, as_of, usccs=[code]).row(0, named=True)
        values = {k: _number(v) for k, v in features.items() if k not in {"uscc", "as_of"}}
        return EnterpriseProfile(
            uscc=code,
            as_of=as_of,
            registration=_registration(firm, as_of),
            summary=_summary(scores),
            subscores=_subscore_views(scores),
            key_features=[self._trend(code, as_of, m, values) for m in KEY_METRICS],
            related_parties=related_parties(self.lake, firm, as_of, self.catalog.lags),
            flags=raised_flags(values),
        )

    # --- pieces ---------------------------------------------------------------------------

    def _registration_row(self, uscc: str, as_of: date) -> dict[str, object]:
        try:
            firms = self.lake.scan("reg_enterprise")
        except TableNotInLakeError as error:
            raise UnknownEnterpriseError(f"enterprise {uscc}: {error}") from None
        rows = firms.filter(pl.col("uscc") == uscc).collect()
        if rows.is_empty():
            raise UnknownEnterpriseError(
                f"enterprise {uscc} is not in the registry (reg_enterprise)"
            )
        row = rows.row(0, named=True)
        if row["founded_on"] is not None and row["founded_on"] >= as_of:
            raise UnknownEnterpriseError(
                f"enterprise {uscc} was founded on {row['founded_on'].isoformat()}, "
                f"not before {as_of.isoformat()}"
            )
        return row

    def _population(self, as_of: date) -> pl.DataFrame:
        path = snapshot_dir(self.features_root, as_of) / FEATURES_FILE
        if as_of not in available_dates(self.features_root):
            built = ", ".join(d.isoformat() for d in available_dates(self.features_root))
            raise NoSnapshotError(
                f"no feature snapshot as of {as_of.isoformat()} in {self.features_root} "
                f"(built: {built or 'none'}); run `puhui features build --as-of "
                f"{as_of.isoformat()}`"
            )
        key = (as_of, path.stat().st_mtime_ns)
        if key not in self._scored:
            features = load_features(
                self.features_root, as_of, columns=self.definition.feature_names()
            )
            industries = (
                self.lake.scan("reg_enterprise")
                .select("uscc", pl.col("industry_code").alias(PEER_COLUMN))
                .collect()
            )
            self._scored = {
                key: score_features(features, self.definition, self.catalog, peer_groups=industries)
            }
        return self._scored[key]

    def _trend(
        self, uscc: str, as_of: date, metric: KeyMetric, values: Mapping[str, float | None]
    ) -> KeyFeatureTrend:
        anchor = anchor_month(as_of, self.catalog.lags[metric.table])
        months = [add_months(anchor, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
        observed: dict[date, float | None] = {}
        try:
            frame = (
                self.lake.scan(metric.table)
                .filter(
                    (pl.col("uscc") == uscc)
                    & (pl.col("month") >= months[0])
                    & (pl.col("month") <= anchor)
                )
                .group_by("month")
                .agg(pl.col(metric.column).cast(pl.Float64).sum())
                .collect()
            )
            observed = dict(zip(frame["month"], frame[metric.column], strict=True))
        except TableNotInLakeError:
            pass  # the source is not delivered yet: an empty series
        return KeyFeatureTrend(
            name=metric.name,
            zh=metric.zh,
            en=metric.en,
            unit=metric.unit,
            aggregate=metric.aggregate,  # type: ignore[arg-type]
            last_3m=values.get(metric.last_3m),
            last_12m=values.get(metric.last_12m),
            slope_per_month=values.get(metric.slope),
            growth_yoy=values.get(metric.growth_yoy),
            anchor_month=anchor,
            series=[MonthValue(month=m, value=observed.get(m)) for m in months],
        )


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number


def _division_names() -> dict[str, str]:
    names = {}
    for city in cities():
        names[city.code] = city.name
        for code, county in city.counties.items():
            names[code] = f"{city.name}{county}"
    return names


def _registration(row: Mapping[str, object], as_of: date) -> Registration:
    founded: date = row["founded_on"]  # type: ignore[assignment]
    industry = str(row["industry_code"])
    division = str(row["division_code"])
    return Registration(
        uscc=str(row["uscc"]),
        name=str(row["name"]),
        industry_code=industry,
        industry={d.code: d.name for d in divisions()}.get(industry),
        division_code=division,
        division=_division_names().get(division),
        founded_on=founded,
        age_years=round((as_of - founded).days / 365.25, 1),
        size_class=str(row["size_class"]),
        status=str(row["status"]),
        entity_type=str(row["entity_type"]),
        registered_capital=row["registered_capital"],  # type: ignore[arg-type]
        paid_in_capital=row["paid_in_capital"],  # type: ignore[arg-type]
    )


def _subscore_views(scores: ProfileScores) -> list[SubscoreView]:
    return [
        SubscoreView(
            name=s.name,
            zh=s.zh,
            en=s.en,
            score=None if s.score is None else round(s.score, 2),
            band=band_of(s.score)[0],
            coverage=round(s.coverage, 4),
            peer=s.peer,
            top=[
                FeatureContribution(
                    feature=c.feature,
                    zh=c.zh,
                    en=c.en,
                    value=c.value,
                    percentile=None if c.percentile is None else round(c.percentile, 2),
                    score=None if c.score is None else round(c.score, 2),
                    weight=c.weight,
                    points=round(c.points, 2),
                )
                for c in s.top(TOP_CONTRIBUTORS)
            ],
        )
        for s in scores.subscores
    ]


def _summary(scores: ProfileScores) -> Summary:
    zh = {s.name: s.zh for s in scores.subscores}
    overall = None if scores.overall is None else round(scores.overall, 2)
    parts = [f"综合 {overall:.0f} · {scores.band}" if overall is not None else "综合 — · 数据不足"]
    if scores.strengths:
        parts.append("强项 " + "、".join(zh[n] for n in scores.strengths))
    if scores.concerns:
        parts.append("关注 " + "、".join(zh[n] for n in scores.concerns))
    return Summary(
        overall=overall,
        band=scores.band,
        band_en=scores.band_en,
        strengths=list(scores.strengths),
        concerns=list(scores.concerns),
        headline=" | ".join(parts),
    )
