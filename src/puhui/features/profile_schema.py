"""The enterprise 360 profile (企业立体画像) as it leaves puhui: one pydantic model for the CLI's
``--json``, the API and the workbench alike.

Money read straight from the lake (capital, invoice totals) stays ``Decimal`` yuan; feature
values and monthly trends are floats, as in the feature store. Personal data is masked: names
keep the surname, identity numbers the region and the last four characters.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Registration(_Out):
    """工商登记 · registration facts (the registry's latest snapshot)."""

    uscc: str
    name: str
    industry_code: str
    industry: str | None  # GB/T 4754 division name, when in the reference table
    division_code: str
    division: str | None  # county or city name
    founded_on: date
    age_years: float
    size_class: str
    status: str
    entity_type: str
    registered_capital: Decimal | None
    paid_in_capital: Decimal | None


class FeatureContribution(_Out):
    """One feature's part in a sub-score: ``points`` it moves the sub-score away from 50."""

    feature: str
    zh: str
    en: str
    value: float | None
    percentile: float | None  # mid-rank among the peers, 0–100
    score: float | None  # the feature's 0–100 score in this sub-score
    weight: float
    points: float


class SubscoreView(_Out):
    name: str
    zh: str
    en: str
    score: float | None  # None: too little data (see coverage)
    band: str | None
    coverage: float
    peer: str
    top: list[FeatureContribution]  # largest |points| first


class Summary(_Out):
    """综合 · overall score, band and the sub-scores that stand out."""

    overall: float | None
    band: str | None  # 优 / 良 / 中 / 弱
    band_en: str | None
    strengths: list[str]
    concerns: list[str]
    headline: str


class MonthValue(_Out):
    month: date
    value: float | None  # None: the source reported nothing for that month


class KeyFeatureTrend(_Out):
    """A key metric's level over 3 and 12 months, its trend, and the last 12 observable months."""

    name: str
    zh: str
    en: str
    unit: str
    aggregate: Literal["sum", "mean"]
    last_3m: float | None
    last_12m: float | None
    slope_per_month: float | None
    growth_yoy: float | None  # last 12 months over the 12 before, as a fraction
    anchor_month: date  # the latest month observable as of the profile date
    series: list[MonthValue]


class Person(_Out):
    role: str
    name: str  # masked
    id_number: str  # masked
    age_years: float | None


class Shareholder(_Out):
    holder_type: str
    holder_id: str  # masked identity number for persons, USCC for enterprises
    name: str | None  # masked for persons
    share_ratio: float | None


class RelatedFirm(_Out):
    uscc: str
    name: str
    status: str
    relation: str


class CoreEnterprise(_Out):
    uscc: str
    name: str
    platform: str | None
    since: date | None
    status: str | None


class Counterparty(_Out):
    uscc: str
    name: str | None  # None when the counterparty is outside the registry
    direction: Literal["sale", "purchase"]
    year: int
    invoices: int | None
    amount: Decimal | None


class RelatedParties(_Out):
    legal_representative: Person | None
    shareholders: list[Shareholder]
    firms_sharing_legal_rep: list[RelatedFirm]
    core_enterprises: list[CoreEnterprise]
    top_customers: list[Counterparty]
    top_suppliers: list[Counterparty]


class Flag(_Out):
    """A fact a banker must see before anything else (黑名单, 失信, 数字雷达 mismatches)."""

    code: str
    severity: Literal["high", "medium", "info"]
    zh: str
    en: str
    feature: str
    value: float | None


class EnterpriseProfile(_Out):
    """企业立体画像 · the 360 view of one firm as of one date."""

    uscc: str
    as_of: date
    masked: bool = True
    registration: Registration
    summary: Summary
    subscores: list[SubscoreView]
    key_features: list[KeyFeatureTrend]
    related_parties: RelatedParties
    flags: list[Flag]
