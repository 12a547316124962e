"""Small in-memory firms, a fixed scorer, a scripted sentinel and a SQLite store for the
product, decision and origination tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from puhui.actions.origination.decisioning import DecisionService, FirmFacts
from puhui.actions.origination.ports import AcceptAnyConsent, InMemoryCoreBanking
from puhui.actions.origination.service import OriginationService
from puhui.actions.servicing.service import ServicingService
from puhui.data.identifiers import uscc_check_char
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.origination_tables import SentinelVerdict
from puhui.decisions.products.spec import load_product_catalog
from puhui.decisions.scoring import ScoreResult
from puhui.decisions.screening import ScreeningRequest, ScreeningResult

AS_OF = date(2026, 7, 1)


def uscc(serial: int) -> str:
    first = f"91330100MA2B{serial:05d}"
    return first + uscc_check_char(first)


GOOD_FIRM: dict[str, float | None] = {
    "reg_active": 1,
    "dishonest_count_24m": 0,
    "lr_dishonest_count_24m": 0,
    "blacklist_enterprise_listed": 0,
    "blacklist_legal_rep_listed": 0,
    "tax_rating_latest_is_d": 0,
    "enforcement_count_12m": 0,
    "loan_overdue_days_max_12m": None,
    "reg_age_months": 60,
    "tax_months_reported_12m": 12,
    "tax_vat_paid_sum_12m": 60_000,
    "tax_income_tax_paid_sum_12m": 20_000,
    "scitech_active_lists": 0,
    "tax_declared_revenue_sum_12m": 3_000_000,
    "patents_count_24m": 0,
    "relationship_customer": 0,
    "relationship_months_as_customer": None,
    "bank_inflow_amount_sum_12m": None,
    "bank_average_daily_balance_mean_12m": None,
    "customs_export_amount_sum_12m": None,
    "customs_rating_untrustworthy": 0,
    "vat_refund_amount_12m": 0,
    "tenders_amount_12m": 0,
    "procurement_amount_12m": 0,
    "loan_outstanding_principal_mean_1m": None,
    "relationship_payroll_service": 0,
    "bureau_ent_lender_count_mean_1m": 0,
    "bank_loans_disbursed_count_24m": 0,
}


def firm(**changes: float | None) -> dict[str, float | None]:
    return {**GOOD_FIRM, **changes}


class FixedScorer:
    """Scores from a table; unknown firms score 70."""

    feature_names: Sequence[str] = ()

    def __init__(self, scores: Mapping[str, float]) -> None:
        self.scores = dict(scores)

    def score(self, uscc: str, features: Mapping[str, float | None]) -> ScoreResult:
        return ScoreResult(self.scores.get(uscc, 70.0), None, "test:fixed", {"test_model": "3"})


@dataclass
class ScriptedSentinel:
    """Answers per firm; passes the rest. ``fail_for`` raises, as a crashing sentinel would."""

    verdicts: dict[str, SentinelVerdict] = field(default_factory=dict)
    fail_for: set[str] = field(default_factory=set)
    calls: int = 0

    def screen(self, request: ScreeningRequest) -> ScreeningResult:
        self.calls += 1
        if request.uscc in self.fail_for:
            raise RuntimeError(f"sentinel crashed on {request.uscc}")
        verdict = self.verdicts.get(request.uscc, SentinelVerdict.PASS)
        hits = () if verdict is SentinelVerdict.PASS else ("device_shared_by_5_firms",)
        return ScreeningResult(verdict, hits, "", "test-strategy-1")


def decision_service(
    firms: Mapping[str, Mapping[str, float | None]],
    scores: Mapping[str, float] | None = None,
    sentinel: ScriptedSentinel | None = None,
) -> DecisionService:
    facts = {code: FirmFacts(code, dict(values), "330100-01") for code, values in firms.items()}
    return DecisionService(
        load_product_catalog(), facts, FixedScorer(scores or {}), AS_OF, sentinel
    )


class StepClock:
    """A clock that moves one second per call, so transitions have distinct times."""

    def __init__(self, start: datetime = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def store_services(
    url_or_path: str | Path, decisions: DecisionService
) -> tuple[OriginationService, ServicingService, InMemoryCoreBanking]:
    url = url_or_path if isinstance(url_or_path, str) else f"sqlite:///{url_or_path}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    bank = InMemoryCoreBanking()
    clock = StepClock()
    origination = OriginationService(sessions, decisions, AcceptAnyConsent(), bank, clock=clock)
    return origination, ServicingService(sessions, origination, clock=clock), bank
