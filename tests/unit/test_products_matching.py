"""Eligibility, limits, pricing and the decision engine over small in-memory firms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from origination_fakes import AS_OF, firm

from puhui.data.store.origination_tables import DecisionOutcome, SentinelVerdict
from puhui.decisions.engine import decide
from puhui.decisions.products.matching import match_products
from puhui.decisions.products.spec import load_product_catalog
from puhui.decisions.scoring import ScoreResult, pd_to_score
from puhui.decisions.screening import NoSentinel, ScreeningResult

CATALOG = load_product_catalog()
PASS = ScreeningResult(SentinelVerdict.PASS)


def _score(value: float) -> ScoreResult:
    return ScoreResult(value, None, "test", {"application_pd": "2"})


def test_a_plain_taxpayer_gets_xiaowei_with_a_limit_from_tax_paid() -> None:
    match = match_products(CATALOG, firm(), 70.0, AS_OF)
    assert [offer.product.code for offer in match.offers] == ["xiaowei_edai"]
    offer = match.offers[0]
    # (VAT 60,000 + income tax 20,000) × 6 = 480,000, within band B's 2,000,000 cap.
    assert offer.limit.amount == Decimal("480000.00")
    assert offer.limit.capped_by is None
    # LPR 300 + band B premium 80 + spread 0, no discounts.
    assert offer.price.rate_bp == 380
    assert offer.rank == 1


def test_the_score_band_caps_the_limit() -> None:
    rich = firm(tax_vat_paid_sum_12m=400_000, tax_income_tax_paid_sum_12m=100_000)
    offer = match_products(CATALOG, rich, 55.0, AS_OF).offers[0]  # band C: cap 1,000,000
    assert offer.limit.amount == Decimal("1000000.00")
    assert offer.limit.capped_by == "score band C"


def test_limits_round_down_to_the_product_step() -> None:
    offer = match_products(CATALOG, firm(tax_vat_paid_sum_12m=12_345), 80.0, AS_OF).offers[0]
    assert offer.limit.amount == Decimal("190000.00")  # (12,345 + 20,000) × 6 = 194,070


def test_relationship_discounts_lower_the_rate_within_their_cap_and_the_floor() -> None:
    customer = firm(
        relationship_customer=1,
        relationship_months_as_customer=36,
        bank_inflow_amount_sum_12m=30_000_000,
        bank_average_daily_balance_mean_12m=2_000_000,
        relationship_payroll_service=1,
    )
    match = match_products(CATALOG, customer, 90.0, AS_OF)
    by_code = {offer.product.code: offer for offer in match.offers}
    xiaowei = by_code["xiaowei_edai"].price
    # 20 + 15 + 10 = 45 earned, capped at 40 in total.
    assert xiaowei.discount_bp == 40
    # 300 + 35 − 40 = 295, below the 300 floor.
    assert (xiaowei.rate_bp, xiaowei.clamped) == (300, "floor")
    zheshang = by_code["zheshang_edai"].price
    assert (zheshang.rate_bp, zheshang.clamped) == (290, "floor")  # 285 raw, floor 290


def test_offers_are_ranked_by_limit_then_rate() -> None:
    exporter = firm(customs_export_amount_sum_12m=10_000_000, scitech_active_lists=1)
    match = match_products(CATALOG, exporter, 80.0, AS_OF)
    limits = [offer.limit.amount for offer in match.offers]
    assert limits == sorted(limits, reverse=True)
    assert [offer.rank for offer in match.offers] == list(range(1, len(match.offers) + 1))
    assert {"waimao_edai", "keji_edai", "xiaowei_edai"} <= {o.product.code for o in match.offers}


def test_every_product_not_offered_comes_with_its_reason() -> None:
    match = match_products(CATALOG, firm(reg_age_months=10), 80.0, AS_OF)
    reasons = {r.product.code: r.reasons for r in match.rejections}
    assert set(reasons) == {p.code for p in CATALOG.products}
    assert any("reg_age_months = 10.00, needs >= 24" in text for text in reasons["xiaowei_edai"])
    assert any(
        "customs_export_amount_sum_12m = 缺失 missing" in text for text in reasons["waimao_edai"]
    )


def test_a_limit_below_the_product_minimum_is_no_offer() -> None:
    match = match_products(
        CATALOG, firm(tax_vat_paid_sum_12m=1_000, tax_income_tax_paid_sum_12m=1_000), 80.0, AS_OF
    )
    assert not match.offers
    (xiaowei,) = [r for r in match.rejections if r.product.code == "xiaowei_edai"]
    assert "低于产品起贷额" in xiaowei.reasons[0]


def test_renewal_needs_a_loan_at_the_bank_and_a_clean_record() -> None:
    borrower = firm(loan_outstanding_principal_mean_1m=300_000, loan_overdue_days_max_12m=0)
    offers = {o.product.code: o for o in match_products(CATALOG, borrower, 80.0, AS_OF).offers}
    assert offers["renewal"].limit.amount == Decimal("300000.00")
    assert offers["renewal"].price.rate_bp == 310  # 300 + 35 − 25 renewal spread
    late = firm(loan_outstanding_principal_mean_1m=300_000, loan_overdue_days_max_12m=5)
    codes = {o.product.code for o in match_products(CATALOG, late, 80.0, AS_OF).offers}
    assert "renewal" not in codes


def test_a_veto_declines_whatever_the_score() -> None:
    decision = decide(
        CATALOG,
        uscc="x",
        as_of=AS_OF,
        features=firm(dishonest_count_24m=1),
        score=_score(95),
        screening=PASS,
    )
    assert decision.outcome is DecisionOutcome.DECLINE
    assert "common.not_dishonest" in decision.fired_rules
    assert any(reason.startswith("一票否决") for reason in decision.reasons)
    assert decision.offers == ()


@pytest.mark.parametrize(
    ("score", "verdict", "outcome", "rule"),
    [
        (80, SentinelVerdict.PASS, DecisionOutcome.APPROVE, None),
        (45, SentinelVerdict.PASS, DecisionOutcome.REFER, "band.D.refer"),
        (20, SentinelVerdict.PASS, DecisionOutcome.DECLINE, "band.E.decline"),
        (80, SentinelVerdict.REVIEW, DecisionOutcome.REFER, "sentinel.review"),
        (80, SentinelVerdict.REJECT, DecisionOutcome.DECLINE, "sentinel.reject"),
    ],
)
def test_the_decision_combines_sentinel_band_and_products(
    score: float, verdict: SentinelVerdict, outcome: DecisionOutcome, rule: str | None
) -> None:
    decision = decide(
        CATALOG,
        uscc="x",
        as_of=AS_OF,
        features=firm(),
        score=_score(score),
        screening=ScreeningResult(verdict, ("hit",)),
    )
    assert decision.outcome is outcome
    if rule:
        assert rule in decision.fired_rules
    body = decision.to_dict()
    assert body["model_versions"] == {"application_pd": "2"}
    assert body["catalog_version"] == CATALOG.catalog_version


def test_no_eligible_product_declines_with_that_reason() -> None:
    decision = decide(
        CATALOG,
        uscc="x",
        as_of=AS_OF,
        features=firm(tax_months_reported_12m=3),
        score=_score(90),
        screening=PASS,
    )
    assert decision.outcome is DecisionOutcome.DECLINE
    assert "products.none_eligible" in decision.fired_rules


def test_the_requested_product_is_chosen_when_offered() -> None:
    features = firm(customs_export_amount_sum_12m=2_000_000)
    decision = decide(
        CATALOG,
        uscc="x",
        as_of=AS_OF,
        features=features,
        score=_score(80),
        screening=PASS,
        requested_product="waimao_edai",
        requested_amount=Decimal("100000"),
    )
    assert decision.chosen_offer().product.code == "waimao_edai"  # type: ignore[union-attr]


def test_the_stand_in_sentinel_passes_and_says_so() -> None:
    from puhui.decisions.screening import ScreeningRequest

    result = NoSentinel().screen(ScreeningRequest("a", "x", "wechat"))
    assert result.verdict is SentinelVerdict.PASS
    assert "not installed" in result.note


def test_pd_maps_onto_the_score_scale() -> None:
    scale = CATALOG.model_score_scale
    assert pd_to_score(0.05, scale) == pytest.approx(50)
    assert pd_to_score(0.01, scale) > pd_to_score(0.05, scale) > pd_to_score(0.2, scale)
    assert 0 <= pd_to_score(0.9999, scale) <= pd_to_score(0.0001, scale) <= 100


def test_a_champion_model_scores_with_its_version_and_reasons() -> None:
    from datetime import UTC, datetime

    import numpy as np
    import pandas as pd

    from puhui.decisions.scoring import ChampionScorer
    from puhui.models.artifacts import ModelMetadata
    from puhui.models.gbm import LightGBMChallenger

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "tax_vat_paid_sum_12m": rng.uniform(0, 1e5, 400),
            "reg_age_months": rng.uniform(0, 200, 400),
        }
    )
    bad = (frame["tax_vat_paid_sum_12m"] < 2e4).astype(int)
    model = LightGBMChallenger(n_estimators=20).fit(frame, bad)
    metadata = ModelMetadata(
        name="application_pd",
        version="4",
        kind="lightgbm",
        features=list(frame.columns),
        target="bad",
        trained_by="S001",
        trained_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    scorer = ChampionScorer(model, metadata, CATALOG.model_score_scale)
    strong = scorer.score("x", firm(tax_vat_paid_sum_12m=90_000))
    weak = scorer.score("x", firm(tax_vat_paid_sum_12m=1_000))
    assert strong.model_versions == {"application_pd": "4"}
    assert strong.source == "champion:application_pd"
    assert 0 < strong.pd < weak.pd < 1  # type: ignore[operator]
    assert strong.score > weak.score
    assert weak.reasons
