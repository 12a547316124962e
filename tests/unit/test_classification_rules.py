"""Five-category classification, repayment schedules, days past due and portfolio figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from puhui.actions.servicing.portfolio import LoanPosition, branch_figures
from puhui.actions.servicing.schedule import (
    ScheduleError,
    add_months,
    build_schedule,
    overdue_days,
    split_payment,
)
from puhui.data.store.origination_tables import LoanClass
from puhui.decisions.classification import (
    ClassificationRules,
    ClassificationRulesError,
    classify,
    is_non_performing,
)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, LoanClass.NORMAL),
        (1, LoanClass.SPECIAL_MENTION),
        (90, LoanClass.SPECIAL_MENTION),
        (91, LoanClass.SUBSTANDARD),
        (270, LoanClass.SUBSTANDARD),
        (271, LoanClass.DOUBTFUL),
        (360, LoanClass.DOUBTFUL),
        (361, LoanClass.LOSS),
    ],
)
def test_days_past_due_set_the_minimum_class_under_the_2023_rules(
    days: int, expected: LoanClass
) -> None:
    assert classify(days) is expected


def test_thresholds_are_configuration() -> None:
    strict = ClassificationRules.from_mapping({"substandard_after": 60})
    assert classify(61, strict) is LoanClass.SUBSTANDARD
    assert classify(61) is LoanClass.SPECIAL_MENTION


def test_thresholds_that_do_not_increase_are_refused_by_name() -> None:
    with pytest.raises(ClassificationRulesError, match="doubtful_after"):
        ClassificationRules(substandard_after=300, doubtful_after=270)
    with pytest.raises(ClassificationRulesError, match="unknown field 'npl_after'"):
        ClassificationRules.from_mapping({"npl_after": 90})


def test_npl_is_substandard_doubtful_and_loss() -> None:
    assert [is_non_performing(c) for c in LoanClass] == [False, False, True, True, True]


def test_equal_instalments_repay_the_principal_exactly() -> None:
    schedule = build_schedule(Decimal("100000"), 435, 12, "equal_instalment", date(2026, 1, 31))
    assert sum(i.principal for i in schedule) == Decimal("100000")
    amounts = {i.amount for i in schedule[:-1]}
    assert len(amounts) == 1  # the same payment each month; the last absorbs rounding
    assert schedule[0].due_on == date(2026, 2, 28)
    assert schedule[0].interest == Decimal("362.50")  # 100,000 × 4.35% / 12


@pytest.mark.parametrize("method", ["interest_only_balloon", "revolving"])
def test_interest_only_and_revolving_repay_principal_at_maturity(method: str) -> None:
    schedule = build_schedule(Decimal("120000"), 360, 6, method, date(2026, 7, 1))
    assert [i.principal for i in schedule[:-1]] == [Decimal("0.00")] * 5
    assert schedule[-1].principal == Decimal("120000")
    assert {i.interest for i in schedule} == {Decimal("360.00")}


def test_a_schedule_needs_a_positive_principal() -> None:
    with pytest.raises(ScheduleError, match="positive principal"):
        build_schedule(Decimal(0), 400, 12, "revolving", date(2026, 1, 1))


def test_days_past_due_count_from_the_oldest_unpaid_instalment() -> None:
    schedule = build_schedule(Decimal("12000"), 0, 12, "equal_instalment", date(2026, 1, 15))
    assert overdue_days(schedule, Decimal(0), date(2026, 2, 15)) == 0  # due today: not late
    assert overdue_days(schedule, Decimal(0), date(2026, 3, 1)) == 14
    assert overdue_days(schedule, Decimal("1000"), date(2026, 3, 20)) == 5
    assert overdue_days(schedule, Decimal("999.99"), date(2026, 3, 20)) == 33


def test_payments_cover_interest_then_principal_and_the_rest_is_early_repayment() -> None:
    schedule = build_schedule(Decimal("100000"), 360, 12, "revolving", date(2026, 7, 1))
    principal, interest = split_payment(schedule, Decimal(0), Decimal("50000"), date(2026, 9, 2))
    assert interest == Decimal("600.00")  # two monthly interests of 300 were due
    assert principal == Decimal("49400.00")


def test_add_months_clips_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_branch_figures_give_balance_borrowers_first_loans_and_npl_ratio() -> None:
    positions = [
        LoanPosition("A", "F1", Decimal(100), Decimal(100), "normal", True),
        LoanPosition("A", "F1", Decimal(100), Decimal(50), "substandard", True),
        LoanPosition("A", "F2", Decimal(20_000_000), Decimal(50), "loss", False),
        LoanPosition("B", "F3", Decimal(100), Decimal(0), "normal", False),  # settled: out
    ]
    rows = {row.branch_id: row for row in branch_figures(positions)}
    a = rows["A"]
    assert (a.loans, a.balance, a.borrowers, a.first_loan_borrowers) == (3, Decimal(200), 2, 1)
    assert a.npl_balance == Decimal(100)
    assert a.npl_ratio == Decimal("0.5000")
    # F2's 20 million credit is outside the inclusive small-micro scope.
    assert (a.inclusive_balance, a.inclusive_borrowers) == (Decimal(150), 1)
    assert "B" not in rows and rows["ALL"].loans == 3
