"""两增两控: each indicator met, missed, or not judged when the bank-wide figure is missing."""

from __future__ import annotations

from puhui.actions.servicing.regulatory import BankWideFigures, InclusiveFigures, assess

BOOK = InclusiveFigures(
    balance_growth_ytd=0.12,
    borrowers_now=1_050,
    borrowers_year_ago=1_000,
    npl_ratio=0.035,
    average_rate_bp_this_year=395.0,
    average_rate_bp_last_year=410.0,
)


def _met(figures: InclusiveFigures, bank: BankWideFigures) -> dict[str, bool | None]:
    return {indicator.key: indicator.met for indicator in assess(figures, bank)}


def test_a_book_growing_faster_with_more_borrowers_cheaper_and_within_tolerance_meets_all() -> None:
    assert _met(BOOK, BankWideFigures(loan_growth_ytd=0.08, npl_ratio=0.012)) == {
        "balance_growth": True,
        "borrowers": True,
        "asset_quality": True,  # 3.5% ≤ 1.2% + 3 pp
        "financing_cost": True,
    }


def test_each_indicator_fails_on_its_own_condition() -> None:
    worse = InclusiveFigures(
        balance_growth_ytd=0.05,
        borrowers_now=990,
        borrowers_year_ago=1_000,
        npl_ratio=0.045,
        average_rate_bp_this_year=420.0,
        average_rate_bp_last_year=410.0,
    )
    assert _met(worse, BankWideFigures(loan_growth_ytd=0.08, npl_ratio=0.012)) == {
        "balance_growth": False,
        "borrowers": False,
        "asset_quality": False,  # 4.5% > 4.2%
        "financing_cost": False,
    }


def test_without_bank_wide_figures_the_two_comparisons_are_not_judged() -> None:
    indicators = {i.key: i for i in assess(BOOK, BankWideFigures())}
    assert indicators["balance_growth"].met is None
    assert indicators["asset_quality"].met is None
    assert indicators["asset_quality"].threshold == "需全行数据"
    assert indicators["borrowers"].met is True and indicators["financing_cost"].met is True
    assert indicators["balance_growth"].value == "+12.0%"
