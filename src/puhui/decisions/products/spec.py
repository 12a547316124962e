"""The product catalog as validated data (产品目录).

``catalog/products.yaml`` declares the LPR history, score bands, relationship discounts, the
rules every product applies and the products themselves. Loading validates the structure and,
given the feature catalog's names, that every feature a rule or formula reads exists. Errors
name the file, the product (or section) and the field.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.data.store.origination_tables import RepaymentMethod
from puhui.errors import PuhuiError

CATALOG_DIR = Path(__file__).parent / "catalog"
DEFAULT_CATALOG_FILE = CATALOG_DIR / "products.yaml"

Operator = Literal[">=", ">", "<=", "<", "==", "!="]
BandAction = Literal["approve", "refer", "decline"]


class ProductCatalogError(PuhuiError):
    """The product catalog is malformed; the message names the file, product and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LprEntry(_Strict):
    """贷款市场报价利率: the 1-year LPR in force from ``effective_from``."""

    effective_from: date
    one_year_bp: int = Field(ge=0, le=2000)


class ScoreScale(_Strict):
    """How a model's PD maps onto the 0–100 score the bands use."""

    anchor_pd: float = Field(gt=0, lt=1)
    anchor_score: float = Field(ge=0, le=100)
    points_per_doubling: float = Field(gt=0)


class ScoreBand(_Strict):
    """评分档: from ``min_score`` up; what to do, the risk premium and the limit cap."""

    band: str = Field(min_length=1, max_length=8)
    min_score: float = Field(ge=0, le=100)
    action: BandAction
    risk_premium_bp: int = Field(ge=0, le=2000)
    limit_cap: Decimal = Field(ge=0)


class DiscountTier(_Strict):
    at_least: float
    bp: int = Field(ge=0, le=200)


class Discount(_Strict):
    """关系优惠: the highest tier the feature reaches earns its discount."""

    name: str
    zh: str
    feature: str
    tiers: tuple[DiscountTier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> Discount:
        thresholds = [tier.at_least for tier in self.tiers]
        if thresholds != sorted(thresholds):
            raise ValueError("tiers must be in ascending order of at_least")
        return self


class Discounts(_Strict):
    max_total_bp: int = Field(ge=0, le=500)
    items: tuple[Discount, ...] = ()


class Rule(_Strict):
    """One eligibility condition: ``feature op value``. A missing value fails unless
    ``if_missing: pass``. A failed ``veto`` rule (一票否决) declines the whole application."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    feature: str
    op: Operator
    value: float
    zh: str
    en: str
    if_missing: Literal["fail", "pass"] = "fail"
    veto: bool = False


class LimitTerm(_Strict):
    """``multiple × feature``; a missing feature contributes nothing."""

    feature: str
    multiple: float = Field(gt=0)
    zh: str


class LimitFormula(_Strict):
    """额度公式: terms combined (sum, max or min), bounded, rounded down to ``round_to``."""

    combine: Literal["sum", "max", "min"] = "sum"
    terms: tuple[LimitTerm, ...] = Field(min_length=1)
    min_amount: Decimal = Field(ge=0)
    max_amount: Decimal = Field(gt=0)
    round_to: Decimal = Field(gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> LimitFormula:
        if self.min_amount > self.max_amount:
            raise ValueError(f"min_amount {self.min_amount} is above max_amount {self.max_amount}")
        return self


class Pricing(_Strict):
    """定价: LPR + band premium + product spread − discounts, within [floor, cap] (bp)."""

    product_spread_bp: int = Field(ge=-500, le=1000)
    floor_bp: int = Field(ge=0, le=3000)
    cap_bp: int = Field(ge=0, le=3000)

    @model_validator(mode="after")
    def _floor_below_cap(self) -> Pricing:
        if self.floor_bp > self.cap_bp:
            raise ValueError(f"floor_bp {self.floor_bp} is above cap_bp {self.cap_bp}")
        return self


class ProductSpec(_Strict):
    """One product: who qualifies, how much, for how long, how repaid, at what price."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    zh: str
    en: str
    kind: Literal["new", "renewal"] = "new"
    repayment_methods: tuple[RepaymentMethod, ...] = Field(min_length=1)
    term_months: tuple[int, ...] = Field(min_length=1)
    eligibility: tuple[Rule, ...] = ()
    limit: LimitFormula
    pricing: Pricing

    @model_validator(mode="after")
    def _terms(self) -> ProductSpec:
        for months in self.term_months:
            if not 1 <= months <= 120:
                raise ValueError(f"term_months {months} is outside 1–120")
        return self


class ProductCatalog(_Strict):
    """The whole catalog; ``catalog_version`` is recorded with every decision."""

    catalog_version: str = Field(min_length=1)
    lpr: tuple[LprEntry, ...] = Field(min_length=1)
    model_score_scale: ScoreScale
    score_bands: tuple[ScoreBand, ...] = Field(min_length=1)
    discounts: Discounts
    common_rules: tuple[Rule, ...] = ()
    products: tuple[ProductSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ProductCatalog:
        days = [entry.effective_from for entry in self.lpr]
        if days != sorted(days):
            raise ValueError("lpr: entries must be in ascending order of effective_from")
        floors = [band.min_score for band in self.score_bands]
        if floors != sorted(floors, reverse=True):
            raise ValueError("score_bands: must be listed best first (descending min_score)")
        if floors[-1] != 0:
            raise ValueError("score_bands: the last band must start at min_score 0")
        codes = [product.code for product in self.products]
        doubled = sorted({code for code in codes if codes.count(code) > 1})
        if doubled:
            raise ValueError(f"products: code {doubled[0]} is declared twice")
        return self

    @cached_property
    def by_code(self) -> dict[str, ProductSpec]:
        return {product.code: product for product in self.products}

    def product(self, code: str) -> ProductSpec:
        """The product ``code``; unknown codes raise with the known ones."""
        try:
            return self.by_code[code]
        except KeyError:
            known = ", ".join(self.by_code)
            raise ProductCatalogError(f"unknown product {code!r}; known: {known}") from None

    def lpr_on(self, day: date) -> LprEntry:
        """The LPR in force on ``day``."""
        current = None
        for entry in self.lpr:
            if entry.effective_from <= day:
                current = entry
        if current is None:
            raise ProductCatalogError(
                f"no LPR in force on {day.isoformat()}; the catalog's first is "
                f"{self.lpr[0].effective_from.isoformat()}"
            )
        return current

    def band_for(self, score: float) -> ScoreBand:
        for band in self.score_bands:
            if score >= band.min_score:
                return band
        return self.score_bands[-1]

    @cached_property
    def features(self) -> tuple[str, ...]:
        """Every feature the catalog reads, for loading only those columns."""
        names: dict[str, None] = {}
        for rule in self.common_rules:
            names[rule.feature] = None
        for discount in self.discounts.items:
            names[discount.feature] = None
        for product in self.products:
            for rule in product.eligibility:
                names[rule.feature] = None
            for term in product.limit.terms:
                names[term.feature] = None
        return tuple(names)


def load_product_catalog(
    path: Path | None = None, *, known_features: Collection[str] | None = None
) -> ProductCatalog:
    """Read and validate the catalog; with ``known_features``, every feature must be in it."""
    file = path or DEFAULT_CATALOG_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProductCatalogError(f"{file}: cannot read the product catalog: {error}") from None
    except yaml.YAMLError as error:
        raise ProductCatalogError(f"{file}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ProductCatalogError(f"{file}: the product catalog must be a mapping")
    try:
        catalog = ProductCatalog.model_validate(raw)
    except ValidationError as error:
        raise ProductCatalogError(f"{file}: {_where(error, raw)}") from None
    if known_features is not None:
        _check_features(catalog, set(known_features), file)
    return catalog


def _where(error: ValidationError, raw: dict[str, object]) -> str:
    """The first problem as ``product <code>: field <path>: <message>``."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    products = raw.get("products")
    if len(loc) >= 2 and loc[0] == "products" and isinstance(products, list):
        index = int(loc[1])
        entry = products[index] if index < len(products) else None
        code = entry.get("code") if isinstance(entry, dict) else None
        name = code or f"#{index + 1}"
        field = ".".join(loc[2:]) or "(entry)"
        return f"product {name}: field {field}: {message}"
    return f"field {'.'.join(loc) or '(catalog)'}: {message}"


def _check_features(catalog: ProductCatalog, known: set[str], file: Path) -> None:
    for rule in catalog.common_rules:
        if rule.feature not in known:
            raise ProductCatalogError(
                f"{file}: common_rules {rule.name}: unknown feature {rule.feature!r}"
            )
    for discount in catalog.discounts.items:
        if discount.feature not in known:
            raise ProductCatalogError(
                f"{file}: discounts {discount.name}: unknown feature {discount.feature!r}"
            )
    for product in catalog.products:
        for rule in product.eligibility:
            if rule.feature not in known:
                raise ProductCatalogError(
                    f"{file}: product {product.code}: field eligibility.{rule.name}.feature: "
                    f"unknown feature {rule.feature!r}"
                )
        for term in product.limit.terms:
            if term.feature not in known:
                raise ProductCatalogError(
                    f"{file}: product {product.code}: field limit.terms.feature: "
                    f"unknown feature {term.feature!r}"
                )
