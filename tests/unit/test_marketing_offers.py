"""The vectorised best offer agrees with the product catalog's own matcher, firm by firm:
same best product, limit and rate, and no offer exactly when ``match_products`` has none."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from puhui.decisions.marketing.offers import match_best_offer, score_expr
from puhui.decisions.products.matching import match_products
from puhui.decisions.products.spec import load_product_catalog
from puhui.decisions.scoring import pd_to_score

AS_OF = date(2026, 7, 1)


@pytest.fixture(scope="module")
def catalog():
    return load_product_catalog()


def _random_firm(rng: random.Random, features: tuple[str, ...]) -> dict[str, float | None]:
    firm: dict[str, float | None] = {}
    for name in features:
        roll = rng.random()
        if roll < 0.15:
            firm[name] = None
        elif roll < 0.45:
            firm[name] = float(rng.choice([0, 0, 1, 2, 12, 24, 36]))
        else:
            firm[name] = round(rng.choice([1, 10, 1e3, 1e5, 1e6, 2e7]) * rng.random(), 2)
    # Common rules decide most offers; let about half the firms clear them.
    if rng.random() < 0.5:
        firm.update(
            reg_active=1.0,
            dishonest_count_24m=0.0,
            lr_dishonest_count_24m=0.0,
            enforcement_count_12m=0.0,
            tax_rating_latest_is_d=0.0,
            blacklist_enterprise_listed=0.0,
            blacklist_legal_rep_listed=0.0,
        )
    return firm


def test_the_vectorised_best_offer_equals_match_products(catalog) -> None:
    rng = random.Random(7)
    features = catalog.features
    firms = [_random_firm(rng, features) for _ in range(1500)]
    scores = [rng.uniform(0, 100) for _ in firms]
    frame = pl.DataFrame(
        {
            "uscc": [f"F{i:04d}" for i in range(len(firms))],
            "score": scores,
            **{name: [firm[name] for firm in firms] for name in features},
        },
        schema={"uscc": pl.String, "score": pl.Float64, **dict.fromkeys(features, pl.Float64)},
    )
    out = match_best_offer(frame.lazy(), catalog, AS_OF).collect()
    offered = 0
    for firm, score, row in zip(firms, scores, out.iter_rows(named=True), strict=True):
        match = match_products(catalog, firm, score, AS_OF)
        offers = [o for o in match.offers if o.product.kind == "new"]
        assert row["band"] == match.band.band
        if not offers:
            assert row["offer_product"] is None, (firm, score)
            continue
        offered += 1
        best = offers[0]
        assert row["offer_product"] == best.product.code
        assert Decimal(repr(row["offer_limit"])).quantize(Decimal("0.01")) == best.limit.amount
        assert row["offer_rate_bp"] == best.price.rate_bp
        assert row["offer_count"] == len(offers)
    assert offered > 40  # the comparison covered many offers, not just refusals


def test_the_score_expression_equals_pd_to_score(catalog) -> None:
    pds = [1e-9, 0.001, 0.01, 0.05, 0.2, 0.6, 0.999999]
    frame = pl.DataFrame({"pd": pds}).with_columns(
        score_expr("pd", catalog.model_score_scale).alias("score")
    )
    for pd, score in zip(pds, frame["score"], strict=True):
        assert score == pytest.approx(pd_to_score(pd, catalog.model_score_scale))


class _FixedModel:
    """A stand-in predictor: P(event) from one feature, so rows differ."""

    def __init__(self, name: str, feature: str) -> None:
        self.name, self.version, self.features, self.feature = name, "1", (feature,), feature

    def predict(self, frame: pl.DataFrame):  # type: ignore[no-untyped-def]
        values = frame[self.feature].fill_null(0.0).fill_nan(0.0).to_numpy()
        return 0.01 + 0.2 * (values % 7) / 7


def test_scoring_in_slices_gives_the_same_lists_as_scoring_at_once(catalog) -> None:
    from puhui.actions.marketing.build import score_universe
    from puhui.decisions.marketing.spec import load_marketing_config

    config = load_marketing_config()
    rng = random.Random(11)
    features = tuple(dict.fromkeys((*config.features, *catalog.features)))
    firms = [_random_firm(rng, features) for _ in range(300)]
    for firm in firms[::2]:  # half pass the pre-screen and are prospects
        for rule in (*config.screening_rules, *config.prospect_rules):
            firm[rule.feature] = rule.value if rule.op in ("==", "<=", ">=") else None
    frame = pl.DataFrame(
        {
            "uscc": [f"F{i:04d}" for i in range(len(firms))],
            **{name: [firm[name] for firm in firms] for name in features},
        },
        schema={"uscc": pl.String, **dict.fromkeys(features, pl.Float64)},
    )
    pd_model = _FixedModel("application_pd", "reg_age_months")
    takeup = _FixedModel("propensity", "tax_months_reported_12m")
    whole = score_universe(frame, config, catalog, AS_OF, pd_model, takeup, slice_rows=10_000)
    sliced = score_universe(frame, config, catalog, AS_OF, pd_model, takeup, slice_rows=7)
    # Equal up to the last bit of the vectorised logarithm in the score.
    assert_frame_equal(whole.sort("uscc"), sliced.sort("uscc"), check_exact=False, rel_tol=1e-12)
    assert set(whole["status"]) >= {"listed", "excluded"}


def test_the_joint_models_pd_is_kept_beside_the_list_and_blended_only_with_a_weight(
    catalog,
) -> None:
    """联合建模 in marketing: firms the joint model scored carry its PD; with a weight the PD that
    values them is the log-odds blend; without one the list is exactly the bank-only list."""
    from puhui.actions.marketing.build import score_universe
    from puhui.decisions.joint_model import blend_pd
    from puhui.decisions.marketing.spec import load_marketing_config

    config = load_marketing_config()
    rng = random.Random(12)
    features = tuple(dict.fromkeys((*config.features, *catalog.features)))
    firms = [_random_firm(rng, features) for _ in range(120)]
    for firm in firms:
        for rule in (*config.screening_rules, *config.prospect_rules):
            firm[rule.feature] = rule.value if rule.op in ("==", "<=", ">=") else None
    usccs = [f"F{i:04d}" for i in range(len(firms))]
    frame = pl.DataFrame(
        {"uscc": usccs, **{name: [firm[name] for firm in firms] for name in features}},
        schema={"uscc": pl.String, **dict.fromkeys(features, pl.Float64)},
    )
    pd_model = _FixedModel("application_pd", "reg_age_months")
    takeup = _FixedModel("propensity", "tax_months_reported_12m")
    joint = pl.DataFrame({"uscc": usccs[::3], "joint_pd": [0.3] * len(usccs[::3])})
    plain = score_universe(frame, config, catalog, AS_OF, pd_model, takeup).sort("uscc")
    reported = score_universe(frame, config, catalog, AS_OF, pd_model, takeup, joint_pd=joint).sort(
        "uscc"
    )
    blended = score_universe(
        frame, config, catalog, AS_OF, pd_model, takeup, joint_pd=joint, joint_weight=0.5
    ).sort("uscc")
    assert_frame_equal(plain, reported.drop("joint_pd"))
    assert reported.filter(pl.col("uscc").is_in(usccs[::3]))["joint_pd"].to_list() == [0.3] * 40
    before = dict(zip(plain["uscc"], plain["pd"], strict=True))
    after = dict(zip(blended["uscc"], blended["pd"], strict=True))
    for uscc in usccs:
        if before[uscc] is None:
            continue
        expected = blend_pd(before[uscc], 0.3, 0.5) if uscc in usccs[::3] else before[uscc]
        assert after[uscc] == pytest.approx(expected)
