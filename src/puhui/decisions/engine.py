"""决策引擎 · the decision: sentinel verdict + score + product match → approve, decline or refer,
with ranked offers, the reasons, the rules that fired and the model versions (pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from puhui.data.store.origination_tables import DecisionOutcome, SentinelVerdict
from puhui.decisions.products.matching import (
    Features,
    Match,
    ProductOffer,
    ProductRejection,
    match_products,
)
from puhui.decisions.products.spec import ProductCatalog
from puhui.decisions.scoring import ScoreResult
from puhui.decisions.screening import ScreeningResult


@dataclass(frozen=True)
class Decision:
    """What the engine decided for one firm, and everything needed to explain it."""

    outcome: DecisionOutcome
    uscc: str
    as_of: date
    match: Match
    score: ScoreResult
    screening: ScreeningResult
    catalog_version: str
    reasons: tuple[str, ...]
    fired_rules: tuple[str, ...]
    requested_product: str | None = None

    @property
    def offers(self) -> tuple[ProductOffer, ...]:
        return self.match.offers if self.outcome is not DecisionOutcome.DECLINE else ()

    @property
    def rejections(self) -> tuple[ProductRejection, ...]:
        return self.match.rejections

    @property
    def model_versions(self) -> Mapping[str, str]:
        return self.score.model_versions

    def chosen_offer(self) -> ProductOffer | None:
        """The requested product when offered, else the best-ranked offer."""
        offers = self.match.offers
        for offer in offers:
            if offer.product.code == self.requested_product:
                return offer
        return offers[0] if offers else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as strings) for the store and the API."""
        return {
            "outcome": self.outcome.value,
            "uscc": self.uscc,
            "as_of": self.as_of.isoformat(),
            "score": round(self.score.score, 2),
            "pd": None if self.score.pd is None else round(self.score.pd, 6),
            "score_source": self.score.source,
            "band": self.match.band.band,
            "lpr_bp": self.match.lpr_bp,
            "catalog_version": self.catalog_version,
            "model_versions": dict(self.score.model_versions),
            "sentinel": {
                "verdict": self.screening.verdict.value,
                "hits": list(self.screening.hits),
                "note": self.screening.note,
                "strategy_version": self.screening.strategy_version,
            },
            "reasons": list(self.reasons),
            "fired_rules": list(self.fired_rules),
            "offers": [offer_dict(offer) for offer in self.offers],
            "rejections": [
                {"product": r.product.code, "name": r.product.zh, "reasons": list(r.reasons)}
                for r in self.rejections
            ],
            "notes": [note for note in (self.score.note, self.screening.note) if note],
        }


def offer_dict(offer: ProductOffer) -> dict[str, Any]:
    return {
        "rank": offer.rank,
        "product": offer.product.code,
        "name": offer.product.zh,
        "kind": offer.product.kind,
        "limit": str(offer.limit.amount),
        "limit_basis": list(offer.limit.basis),
        "limit_capped_by": offer.limit.capped_by,
        "rate_bp": offer.price.rate_bp,
        "lpr_bp": offer.price.lpr_bp,
        "risk_premium_bp": offer.price.risk_premium_bp,
        "product_spread_bp": offer.price.product_spread_bp,
        "discounts": [{"name": name, "bp": bp} for name, bp in offer.price.discounts],
        "rate_clamped": offer.price.clamped,
        "term_months": offer.term_months,
        "term_options": list(offer.product.term_months),
        "repayment_method": offer.repayment_method,
        "repayment_options": [method.value for method in offer.product.repayment_methods],
    }


def decide(
    catalog: ProductCatalog,
    *,
    uscc: str,
    as_of: date,
    features: Features,
    score: ScoreResult,
    screening: ScreeningResult,
    requested_product: str | None = None,
    requested_amount: Decimal | None = None,
    match: Match | None = None,
) -> Decision:
    """Decline on a sentinel reject, a veto (一票否决), a declining score band or no product;
    refer on a sentinel review or a referring band; approve otherwise. ``match`` is the
    catalog's match for these features and score when the caller already holds it."""
    match = match or match_products(catalog, features, score.score, as_of)
    reasons: list[str] = []
    fired = list(match.fired_rules)
    outcome = DecisionOutcome.APPROVE
    if screening.verdict is SentinelVerdict.REJECT:
        outcome = DecisionOutcome.DECLINE
        fired.append("sentinel.reject")
        reasons.append("反欺诈拒绝 · sentinel rejected: " + ", ".join(screening.hits or ("-",)))
    if match.vetoes:
        outcome = DecisionOutcome.DECLINE
        reasons.extend(f"一票否决 · veto: {veto.reason}" for veto in match.vetoes)
    if match.band.action == "decline":
        outcome = DecisionOutcome.DECLINE
        fired.append(f"band.{match.band.band}.decline")
        reasons.append(
            f"评分 {score.score:.1f} 低于准入线 · score {score.score:.1f} in band "
            f"{match.band.band}, which is declined"
        )
    if not match.offers and outcome is not DecisionOutcome.DECLINE:
        outcome = DecisionOutcome.DECLINE
        fired.append("products.none_eligible")
        reasons.append("无符合条件的产品 · no product's eligibility is met")
    if outcome is DecisionOutcome.APPROVE:
        if screening.verdict is SentinelVerdict.REVIEW:
            outcome = DecisionOutcome.REFER
            fired.append("sentinel.review")
            reasons.append(
                "反欺诈需人工复核 · sentinel asks for review: " + ", ".join(screening.hits)
            )
        elif match.band.action == "refer":
            outcome = DecisionOutcome.REFER
            fired.append(f"band.{match.band.band}.refer")
            reasons.append(
                f"评分 {score.score:.1f} 属 {match.band.band} 档, 转人工审批 · "
                f"score band {match.band.band} is referred to manual review"
            )
    if outcome is DecisionOutcome.APPROVE:
        best = match.offers[0]
        if requested_product and requested_product not in {o.product.code for o in match.offers}:
            reasons.append(
                f"申请产品 {requested_product} 不符合条件, 推荐 {best.product.zh} · requested "
                f"product not eligible; best offer {best.product.code}"
            )
        reasons.append(
            f"核准 {len(match.offers)} 个产品, 最高额度 {best.limit.amount:,.0f} · "
            f"approved {len(match.offers)} product(s)"
        )
        if requested_amount is not None and requested_amount > best.limit.amount:
            reasons.append(
                f"申请金额 {requested_amount:,.0f} 高于核定额度 · requested amount above the limit"
            )
    reasons.extend(score.reasons[:3])
    return Decision(
        outcome=outcome,
        uscc=uscc,
        as_of=as_of,
        match=match,
        score=score,
        screening=screening,
        catalog_version=catalog.catalog_version,
        reasons=tuple(reasons),
        fired_rules=tuple(fired),
        requested_product=requested_product,
    )
