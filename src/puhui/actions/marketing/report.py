"""Feedback on a run (营销反馈): from the outcomes managers recorded, from a simulated contact of
every prospect (evaluation on the synthetic province only), and for the model developers, the
prospects the lists wrongly excluded or included, judged by what the lake shows afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.data.store.marketing_tables import MarketingAssignment, MarketingProspect
from puhui.decisions.marketing.feedback import (
    CONVERTED,
    DECILE,
    ON_THEME,
    DecileRow,
    GainsPoint,
    LiftSummary,
    conversion_by_decile,
    gains_curve,
    lift_summary,
)
from puhui.decisions.marketing.outcomes import CONVERTED as CONVERTED_OUTCOMES
from puhui.decisions.marketing.outcomes import TOOK_UP
from puhui.features.timing import add_months

ACCEPT_RATE = 0.9  # an approved prospect takes the loan (simulation)


@dataclass(frozen=True)
class FeedbackReport:
    run_id: str
    basis: str  # "recorded outcomes" or "simulated contact of every prospect"
    deciles: list[DecileRow]
    gains: list[GainsPoint]
    lift: LiftSummary
    outcomes: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "basis": self.basis,
            "deciles": [d.__dict__ for d in self.deciles],
            "gains": [g.__dict__ for g in self.gains],
            "lift": self.lift.__dict__,
            "outcomes": self.outcomes,
            "extra": self.extra,
        }


def recorded_frame(session: Session, run_id: str) -> pl.DataFrame:
    """Every assigned prospect of the run with its decile and latest outcome."""
    rows = session.execute(
        select(
            MarketingProspect.uscc,
            MarketingProspect.decile,
            MarketingProspect.themes,
            MarketingAssignment.latest_outcome,
        )
        .join(
            MarketingAssignment,
            (MarketingAssignment.run_id == MarketingProspect.run_id)
            & (MarketingAssignment.uscc == MarketingProspect.uscc),
        )
        .where(MarketingProspect.run_id == run_id)
    ).all()
    return pl.DataFrame(
        rows,
        schema={"uscc": pl.String, DECILE: pl.Int32, "themes": pl.String, "latest": pl.String},
        orient="row",
    )


def recorded_feedback(session: Session, run_id: str) -> FeedbackReport:
    """Conversion among the prospects with a recorded outcome, by decile."""
    frame = recorded_frame(session, run_id)
    outcomes = dict(frame.group_by("latest").len().iter_rows())
    contacted = frame.filter(pl.col("latest").is_not_null()).with_columns(
        pl.col("latest").is_in([o.value for o in CONVERTED_OUTCOMES]).alias(CONVERTED),
        (pl.col("themes") != "").alias(ON_THEME),
        pl.col("latest").is_in([o.value for o in TOOK_UP]).alias("took_up"),
    )
    return FeedbackReport(
        run_id=run_id,
        basis="recorded outcomes",
        deciles=conversion_by_decile(contacted),
        gains=gains_curve(contacted) if contacted.height else [],
        lift=lift_summary(contacted),
        outcomes={str(k or "not contacted"): int(v) for k, v in outcomes.items()},
        extra={"contacted": contacted.height, "assigned": frame.height},
    )


def simulate_contacts(
    universe: pl.DataFrame, truth: pl.DataFrame, as_of: date, *, seed: int = 0
) -> pl.DataFrame:
    """What contacting every prospect would bring, drawn from the latent truth (evaluation
    only, never a feature or a label): the firm applies with probability its latent credit
    demand, the bank approves when its product rules and score band give an offer (the same
    catalog origination uses, not the marketing pre-screen), and 90 % of approved firms take
    the loan. ``went_bad`` says whether the firm defaults within 12 months of ``as_of``."""
    prospects = universe.filter(pl.col("is_prospect")).sort("uscc")
    joined = prospects.join(
        truth.select("uscc", "credit_demand", "default_month"), on="uscc", how="left"
    )
    rng = np.random.default_rng(seed)
    n = joined.height
    demand = joined["credit_demand"].fill_null(0.0).to_numpy()
    applies = rng.random(n) < demand
    accepts = rng.random(n) < ACCEPT_RATE
    horizon_end = add_months(as_of, 12)
    return (
        joined.with_columns(
            pl.Series("applied", applies),
            pl.Series("_accepts", accepts),
        )
        .with_columns(
            (pl.col("applied") & pl.col("offer_product").is_not_null()).alias("approved"),
        )
        .with_columns(
            (pl.col("approved") & pl.col("_accepts")).alias(CONVERTED),
            (pl.col("themes").list.len() > 0).alias(ON_THEME),
            (
                pl.col("default_month").is_not_null()
                & (pl.col("default_month").cast(pl.Date) >= as_of)
                & (pl.col("default_month").cast(pl.Date) < horizon_end)
            ).alias("went_bad"),
        )
        .drop("_accepts")
    )


RANKINGS = {"response": "response_decile", "value": "decile"}


def simulated_feedback(
    run_id: str, contacts: pl.DataFrame, *, by: str = "response"
) -> FeedbackReport:
    """Deciles, gains and lift when every prospect is contacted (the simulation), with deciles
    of the response score (``by="response"``, the conversion view) or of expected value."""
    if by not in RANKINGS:
        raise ValueError(f"rank by {by!r}: use one of {', '.join(RANKINGS)}")
    other = "value" if by == "response" else "response"
    other_top = contacts.filter(pl.col(RANKINGS[other]) == 1)
    contacts = contacts.with_columns(pl.col(RANKINGS[by]).alias(DECILE))
    converted = contacts.filter(pl.col(CONVERTED))
    bad_by_decile = (
        converted.group_by(DECILE).agg(pl.col("went_bad").mean().alias("bad_rate")).sort(DECILE)
    )
    listed = contacts.filter(pl.col("status") == "listed")
    return FeedbackReport(
        run_id=run_id,
        basis=f"simulated contact of every prospect (latent demand from truth_enterprise); "
        f"deciles of {'P(good) × P(take-up)' if by == 'response' else 'expected value'}",
        deciles=conversion_by_decile(contacts),
        gains=gains_curve(contacts),
        lift=lift_summary(contacts),
        extra={
            "bad_rate_of_converted_by_decile": {
                int(d): round(float(r), 4) for d, r in bad_by_decile.iter_rows() if d is not None
            },
            "listed_conversion": float(listed[CONVERTED].mean() or 0.0) if listed.height else 0.0,
            "listed": listed.height,
            "ranked_by": by,
            f"top_decile_conversion_by_{other}": (
                float(other_top[CONVERTED].mean() or 0.0) if other_top.height else 0.0
            ),
            "value_captured_by_top_decile": _value_share(contacts),
        },
    )


def _value_share(contacts: pl.DataFrame) -> float:
    """Share of the expected value of converted firms that the top decile holds."""
    won = contacts.filter(pl.col(CONVERTED))
    total = float(won["expected_value"].sum() or 0.0)
    top = float(won.filter(pl.col(DECILE) == 1)["expected_value"].sum() or 0.0)
    return round(top / total, 4) if total else 0.0


@dataclass(frozen=True)
class ValidationFeedback:
    """For the model developers: who the lists got wrong, judged by the lake afterwards."""

    as_of: date
    observed_to: date | None
    wrongly_excluded: int  # excluded, yet borrowed and stayed current
    wrongly_excluded_by_reason: dict[str, int]
    wrongly_included: int  # listed, yet defaulted (90+ days)
    listed_bad_by_decile: dict[int, float]
    not_interested_top_deciles: int  # recorded outcomes: propensity misses
    examples: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def validation_feedback(
    universe: pl.DataFrame,
    connection: Any,
    as_of: date,
    recorded: pl.DataFrame | None = None,
    *,
    examples: int = 20,
) -> ValidationFeedback:
    """Excluded prospects that borrowed (here or elsewhere, per the bureau) and stayed current
    are wrongly excluded; listed ones that reached 90+ days overdue are wrongly included."""
    later = connection.sql(
        f"""
        with borrowed as (
            select uscc from bank_loan where disbursed_on >= date '{as_of}'
            union
            select uscc from bureau_enterprise_monthly
            where month >= date '{as_of}' and lender_count > 0
        ),
        bad as (
            select uscc from bank_loan_monthly
            where month >= date '{as_of}' and overdue_days >= 90
            union
            select uscc from bureau_enterprise_monthly
            where month >= date '{as_of}' and max_overdue_days >= 90
        )
        select u.uscc,
               u.uscc in (select uscc from borrowed) as borrowed_later,
               u.uscc in (select uscc from bad) as went_bad
        from (select distinct uscc from bureau_enterprise_monthly
              union select distinct uscc from bank_loan) as u
        """
    ).pl()
    span = connection.sql("select max(month) from bureau_enterprise_monthly").fetchall()[0]
    observed_to = span[0] if span and span[0] and span[0] >= as_of else None
    prospects = (
        universe.filter(pl.col("is_prospect"))
        .join(later, on="uscc", how="left")
        .with_columns(
            pl.col("borrowed_later").fill_null(False), pl.col("went_bad").fill_null(False)
        )
    )
    # Excluded here means excluded by the pre-screen; no offer at all would not have been lent.
    excluded = prospects.filter(
        (pl.col("status") == "excluded") & pl.col("borrowed_later") & ~pl.col("went_bad")
    )
    reasons = (
        excluded.select(pl.col("exclusion_reasons").explode(empty_as_null=True))
        .group_by("exclusion_reasons")
        .len()
        .sort("len", descending=True)
    )
    listed = prospects.filter(pl.col("status") == "listed")
    included = listed.filter(pl.col("went_bad"))
    bad_by_decile = listed.group_by("decile").agg(pl.col("went_bad").mean()).sort("decile")
    not_interested = 0
    if recorded is not None and recorded.height:
        not_interested = recorded.filter(
            (pl.col("latest") == "not_interested") & (pl.col(DECILE) <= 3)
        ).height
    shown = [
        {"uscc": r["uscc"], "kind": "wrongly_excluded", "reasons": list(r["exclusion_reasons"])}
        for r in excluded.head(examples // 2).iter_rows(named=True)
    ] + [
        {"uscc": r["uscc"], "kind": "wrongly_included", "decile": r["decile"]}
        for r in included.head(examples // 2).iter_rows(named=True)
    ]
    return ValidationFeedback(
        as_of=as_of,
        observed_to=observed_to,
        wrongly_excluded=excluded.height,
        wrongly_excluded_by_reason={str(k): int(v) for k, v in reasons.iter_rows()},
        wrongly_included=included.height,
        listed_bad_by_decile={
            int(d): round(float(r), 4) for d, r in bad_by_decile.iter_rows() if d is not None
        },
        not_interested_top_deciles=not_interested,
        examples=shown,
    )
