"""两增两控 · the regulator's "two increases, two controls" for inclusive small-micro loans.

Two increases: the inclusive loan balance grows at least as fast as all of the bank's loans, and
the number of borrowers is not below the same month a year earlier. Two controls: the NPL ratio
stays within 3 percentage points of the bank's overall NPL ratio, and the financing cost (the
average rate of loans granted this year) does not rise over last year's.

Pure: figures in, a verdict per indicator out. The bank-wide figures (all loans' growth, the
overall NPL ratio) come from the finance department, not from this platform's data; without
them the indicator says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

NPL_TOLERANCE = 0.03  # 3 percentage points above the bank's overall NPL ratio


@dataclass(frozen=True)
class InclusiveFigures:
    """The inclusive book's figures the four indicators need (None: not available)."""

    balance_growth_ytd: float | None  # balance now ÷ last December − 1
    borrowers_now: int
    borrowers_year_ago: int | None
    npl_ratio: float | None
    average_rate_bp_this_year: float | None  # loans granted since 1 January
    average_rate_bp_last_year: float | None


@dataclass(frozen=True)
class BankWideFigures:
    """From the bank's finance department (settings); None when not supplied."""

    loan_growth_ytd: float | None = None
    npl_ratio: float | None = None


@dataclass(frozen=True)
class Indicator:
    key: str
    zh: str
    en: str
    value: str
    threshold: str
    met: bool | None  # None: cannot be judged from the data at hand

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.2f}%"


def assess(figures: InclusiveFigures, bank: BankWideFigures) -> list[Indicator]:
    """The four indicators, each with its value, its threshold and whether it is met."""
    growth, bank_growth = figures.balance_growth_ytd, bank.loan_growth_ytd
    npl, bank_npl = figures.npl_ratio, bank.npl_ratio
    now_rate, last_rate = figures.average_rate_bp_this_year, figures.average_rate_bp_last_year
    year_ago = figures.borrowers_year_ago
    return [
        Indicator(
            "balance_growth",
            "增速不低于各项贷款增速",
            "balance growth ≥ growth of all loans",
            _pct(growth, signed=True),
            f"≥ {_pct(bank_growth, signed=True)}" if bank_growth is not None else "需全行数据",
            None if growth is None or bank_growth is None else growth >= bank_growth,
        ),
        Indicator(
            "borrowers",
            "户数不低于上年同期",
            "borrowers ≥ same month last year",
            f"{figures.borrowers_now:,}",
            f"≥ {year_ago:,}" if year_ago is not None else "–",
            None if year_ago is None else figures.borrowers_now >= year_ago,
        ),
        Indicator(
            "asset_quality",
            "不良率不高于全行3个百分点",
            "NPL ratio ≤ bank's overall + 3 pp",
            _pct(npl),
            f"≤ {_pct(bank_npl + NPL_TOLERANCE)}" if bank_npl is not None else "需全行数据",
            None if npl is None or bank_npl is None else npl <= bank_npl + NPL_TOLERANCE,
        ),
        Indicator(
            "financing_cost",
            "综合融资成本不上升",
            "average rate of new loans not above last year's",
            f"{now_rate / 100:.2f}%" if now_rate is not None else "–",
            f"≤ {last_rate / 100:.2f}%" if last_rate is not None else "–",
            None if now_rate is None or last_rate is None else now_rate <= last_rate,
        ),
    ]
