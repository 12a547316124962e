"""营销结果的先后 · which outcome may follow which (pure).

contacted → not_interested (closes) | applied → approved → disbursed (closes). An outcome may
skip ahead (a disbursal implies the earlier steps) but never go back, and nothing follows a
closing outcome.
"""

from __future__ import annotations

from puhui.data.store.marketing_tables import MarketingOutcome
from puhui.errors import PuhuiError

STAGE = {
    MarketingOutcome.CONTACTED: 1,
    MarketingOutcome.NOT_INTERESTED: 2,
    MarketingOutcome.APPLIED: 2,
    MarketingOutcome.APPROVED: 3,
    MarketingOutcome.DISBURSED: 4,
}
CLOSING = frozenset({MarketingOutcome.NOT_INTERESTED, MarketingOutcome.DISBURSED})
# Outcomes that count as taking up the offer (the propensity target) and as converted.
TOOK_UP = frozenset(
    {MarketingOutcome.APPLIED, MarketingOutcome.APPROVED, MarketingOutcome.DISBURSED}
)
CONVERTED = frozenset({MarketingOutcome.DISBURSED})


class OutcomeOrderError(PuhuiError):
    """An outcome that cannot follow the prospect's latest one; names both."""


def parse_outcome(value: str) -> MarketingOutcome:
    try:
        return MarketingOutcome(value)
    except ValueError:
        known = ", ".join(o.value for o in MarketingOutcome)
        raise OutcomeOrderError(f"unknown outcome {value!r}; known: {known}") from None


def check_next(latest: MarketingOutcome | None, new: MarketingOutcome) -> None:
    """Raise unless ``new`` may follow ``latest`` (None: nothing recorded yet)."""
    if latest is None:
        return
    if latest in CLOSING:
        raise OutcomeOrderError(
            f"the prospect is closed with {latest.value}; no outcome may follow it"
        )
    if STAGE[new] <= STAGE[latest]:
        raise OutcomeOrderError(
            f"outcome {new.value} cannot follow {latest.value} (outcomes only move forward)"
        )
    if new is MarketingOutcome.NOT_INTERESTED and latest is not MarketingOutcome.CONTACTED:
        raise OutcomeOrderError(f"not_interested cannot follow {latest.value}")
