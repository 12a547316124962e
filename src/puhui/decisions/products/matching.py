"""Match one firm against the catalog: eligibility, limit and price for every product (pure).

Input is a firm's features (a mapping of name → number or None), its 0–100 score and the
decision date; output is every product it qualifies for, ranked, and the reasons for each one
it does not. No I/O: the caller loads features and scores.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from puhui.decisions.products.spec import (
    LimitFormula,
    ProductCatalog,
    ProductSpec,
    Rule,
    ScoreBand,
)

Features = Mapping[str, float | None]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def value_of(features: Features, name: str) -> float | None:
    """A feature's value, with NaN read as missing."""
    value = features.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass(frozen=True)
class RuleOutcome:
    """How one rule went for one firm; ``code`` is what ``fired_rules`` lists."""

    code: str
    rule: Rule
    value: float | None
    passed: bool

    @property
    def reason(self) -> str:
        shown = "缺失 missing" if self.value is None else f"{self.value:,.2f}"
        return (
            f"{self.rule.zh} 未满足 · {self.rule.en} not met "
            f"({self.rule.feature} = {shown}, needs {self.rule.op} {self.rule.value:g})"
        )


def evaluate_rule(rule: Rule, features: Features, scope: str) -> RuleOutcome:
    value = value_of(features, rule.feature)
    passed = rule.if_missing == "pass" if value is None else _OPERATORS[rule.op](value, rule.value)
    return RuleOutcome(f"{scope}.{rule.name}", rule, value, passed)


@dataclass(frozen=True)
class LimitResult:
    amount: Decimal
    basis: tuple[str, ...]  # how the formula got there, zh
    capped_by: str | None  # "product max", "score band B", or None


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2)))


def compute_limit(formula: LimitFormula, features: Features, band: ScoreBand) -> LimitResult:
    """额度: the formula's terms combined, bounded by the product and the score band's cap,
    rounded down to ``round_to``."""
    parts: list[Decimal] = []
    basis: list[str] = []
    for term in formula.terms:
        value = value_of(features, term.feature)
        if value is None or value <= 0:
            continue
        part = _money(value) * Decimal(repr(term.multiple))
        parts.append(part)
        basis.append(f"{term.zh}: {part:,.0f}")
    if not parts:
        raw = Decimal(0)
    elif formula.combine == "sum":
        raw = sum(parts, Decimal(0))
    elif formula.combine == "max":
        raw = max(parts)
    else:
        raw = min(parts)
    capped_by = None
    amount = raw
    if amount > formula.max_amount:
        amount, capped_by = formula.max_amount, "product max"
    if amount > band.limit_cap:
        amount, capped_by = band.limit_cap, f"score band {band.band}"
    step = formula.round_to
    amount = (amount / step).to_integral_value(rounding=ROUND_DOWN) * step
    return LimitResult(amount.quantize(Decimal("0.01")), tuple(basis), capped_by)


@dataclass(frozen=True)
class Price:
    """年利率 in bp and how it was built: LPR + premium + spread − discounts, clamped."""

    rate_bp: int
    lpr_bp: int
    risk_premium_bp: int
    product_spread_bp: int
    discounts: tuple[tuple[str, int], ...]
    clamped: str | None  # "floor" or "cap"

    @property
    def discount_bp(self) -> int:
        return sum(bp for _, bp in self.discounts)


def relationship_discounts(
    catalog: ProductCatalog, features: Features
) -> tuple[tuple[str, int], ...]:
    """Each discount's highest tier reached, trimmed so the total stays within the cap."""
    earned: list[tuple[str, int]] = []
    room = catalog.discounts.max_total_bp
    for discount in catalog.discounts.items:
        value = value_of(features, discount.feature)
        if value is None:
            continue
        bp = 0
        for tier in discount.tiers:
            if value >= tier.at_least:
                bp = tier.bp
        bp = min(bp, room)
        if bp > 0:
            earned.append((discount.name, bp))
            room -= bp
    return tuple(earned)


def price(
    product: ProductSpec, band: ScoreBand, lpr_bp: int, discounts: tuple[tuple[str, int], ...]
) -> Price:
    total_discount = sum(bp for _, bp in discounts)
    raw = lpr_bp + band.risk_premium_bp + product.pricing.product_spread_bp - total_discount
    rate, clamped = raw, None
    if rate < product.pricing.floor_bp:
        rate, clamped = product.pricing.floor_bp, "floor"
    elif rate > product.pricing.cap_bp:
        rate, clamped = product.pricing.cap_bp, "cap"
    return Price(
        rate, lpr_bp, band.risk_premium_bp, product.pricing.product_spread_bp, discounts, clamped
    )


@dataclass(frozen=True)
class ProductOffer:
    """One product the firm qualifies for."""

    product: ProductSpec
    limit: LimitResult
    price: Price
    term_months: int
    repayment_method: str
    rank: int = 0


@dataclass(frozen=True)
class ProductRejection:
    """One product the firm does not get, and why."""

    product: ProductSpec
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """Every product, offered (ranked: highest limit, then lowest rate) or rejected."""

    score: float
    band: ScoreBand
    lpr_bp: int
    offers: tuple[ProductOffer, ...]
    rejections: tuple[ProductRejection, ...]
    vetoes: tuple[RuleOutcome, ...]  # 一票否决 rules that failed
    fired_rules: tuple[str, ...]  # every rule that failed, as scope.name


def match_products(catalog: ProductCatalog, features: Features, score: float, as_of: date) -> Match:
    """What ``catalog`` offers a firm with these features and score on ``as_of``."""
    band = catalog.band_for(score)
    lpr_bp = catalog.lpr_on(as_of).one_year_bp
    common = [evaluate_rule(rule, features, "common") for rule in catalog.common_rules]
    common_failed = [outcome for outcome in common if not outcome.passed]
    vetoes = tuple(outcome for outcome in common_failed if outcome.rule.veto)
    fired = [outcome.code for outcome in common_failed]
    discounts = relationship_discounts(catalog, features)
    offers: list[ProductOffer] = []
    rejections: list[ProductRejection] = []
    band_reason = (
        f"评分 {score:.1f} 属 {band.band} 档, 不予准入 · score band {band.band} is declined"
        if band.action == "decline"
        else None
    )
    for product in catalog.products:
        outcomes = [evaluate_rule(rule, features, product.code) for rule in product.eligibility]
        failed = [outcome for outcome in outcomes if not outcome.passed]
        fired.extend(outcome.code for outcome in failed)
        reasons = [outcome.reason for outcome in common_failed + failed]
        if band_reason:
            reasons.append(band_reason)
        limit = None
        if not reasons:
            limit = compute_limit(product.limit, features, band)
            if limit.amount < product.limit.min_amount:
                reasons.append(
                    f"额度 {limit.amount:,.0f} 低于产品起贷额 {product.limit.min_amount:,.0f} · "
                    "computed limit below the product minimum"
                )
        if reasons or limit is None:
            rejections.append(ProductRejection(product, tuple(reasons)))
            continue
        offers.append(
            ProductOffer(
                product=product,
                limit=limit,
                price=price(product, band, lpr_bp, discounts),
                term_months=product.term_months[0],
                repayment_method=product.repayment_methods[0].value,
            )
        )
    offers.sort(key=lambda offer: (-offer.limit.amount, offer.price.rate_bp, offer.product.code))
    ranked = tuple(
        ProductOffer(o.product, o.limit, o.price, o.term_months, o.repayment_method, rank=i + 1)
        for i, o in enumerate(offers)
    )
    return Match(score, band, lpr_bp, ranked, tuple(rejections), vetoes, tuple(fired))
