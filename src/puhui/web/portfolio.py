"""组合看板 · The risk officer's portfolio: balance, borrowers, first-loan borrowers, NPL ratio,
by month and by branch, from the lake's loan book (``bank_loan``, ``bank_loan_monthly``).

Branch managers see their branches only (by the loan's booking branch). Risk officers also see
model monitoring (``puhui.web.monitoring``): each model's score and feature drift on today's book.
Open post-loan warnings by level and branch come from the alarm's read model
(``puhui.actions.alarm.queries.warnings_by_branch``), scoped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.access import Principal, Role
from puhui.actions.alarm.queries import warnings_by_branch
from puhui.actions.servicing.regulatory import BankWideFigures, InclusiveFigures, assess
from puhui.data.lake import Lake
from puhui.models.registry import ModelRegistry
from puhui.web.alarm import LEVEL_COLOURS, LEVEL_NAMES, level_dot
from puhui.web.charts import line_svg
from puhui.web.monitoring import monitor_models
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, render, services_of

router = APIRouter(include_in_schema=False)
PORTFOLIO_ROLES = frozenset({Role.RISK_OFFICER, Role.ADMIN, Role.BRANCH_MANAGER})
register_nav(
    NavItem("portfolio", "/portfolio", "组合看板", "Portfolio", PORTFOLIO_ROLES, order=5,
            capability="portfolio")
)  # fmt: skip
MONITORING_ROLES = frozenset({Role.RISK_OFFICER, Role.ADMIN})  # bank-wide models, bank-wide view
NPL_CLASSES = ("substandard", "doubtful", "loss")
TREND_MONTHS = 24


@dataclass(frozen=True)
class MonthFigures:
    month: date
    balance: float
    borrowers: int
    loans: int
    npl_balance: float

    @property
    def npl_ratio(self) -> float | None:
        return self.npl_balance / self.balance if self.balance else None


@dataclass(frozen=True)
class BranchFigures:
    branch_id: str
    balance: float
    borrowers: int
    npl_balance: float

    @property
    def npl_ratio(self) -> float | None:
        return self.npl_balance / self.balance if self.balance else None


@dataclass(frozen=True)
class Portfolio:
    months: list[MonthFigures]
    branches: list[BranchFigures]
    first_loan_borrowers: int
    balance_growth: float | None  # since the last December
    borrower_growth: float | None
    borrowers_year_ago: int | None = None
    rate_bp_by_year: dict[int, float] = field(default_factory=dict)  # principal-weighted

    def inclusive_figures(self) -> InclusiveFigures | None:
        """What 两增两控 needs, from the latest month."""
        latest = self.latest
        if latest is None:
            return None
        year = latest.month.year
        return InclusiveFigures(
            balance_growth_ytd=self.balance_growth,
            borrowers_now=latest.borrowers,
            borrowers_year_ago=self.borrowers_year_ago,
            npl_ratio=latest.npl_ratio,
            average_rate_bp_this_year=self.rate_bp_by_year.get(year),
            average_rate_bp_last_year=self.rate_bp_by_year.get(year - 1),
        )

    @property
    def latest(self) -> MonthFigures | None:
        return self.months[-1] if self.months else None


@dataclass(frozen=True)
class BranchWarnings:
    branch_id: str
    counts: dict[str, int]  # level -> open warnings, every level present

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class WarningLevels:
    """Open post-loan warnings (贷后预警) per branch and level (levels listed most severe first)."""

    branches: list[BranchWarnings]
    levels: tuple[str, ...] = tuple(LEVEL_COLOURS)

    @property
    def totals(self) -> dict[str, int]:
        return {level: sum(b.counts[level] for b in self.branches) for level in self.levels}

    @property
    def total(self) -> int:
        return sum(b.total for b in self.branches)


def read_warning_levels(sessions: sessionmaker[Session], principal: Principal) -> WarningLevels:
    """The open warnings the principal may see (a branch manager: their branches only)."""
    branches = None if principal.scope.all_branches else sorted(principal.scope.branch_ids)
    with sessions() as session:
        rows = warnings_by_branch(session, branches)
    levels = tuple(LEVEL_COLOURS)
    return WarningLevels(
        [BranchWarnings(r["branch_id"], {lvl: int(r.get(lvl, 0)) for lvl in levels}) for r in rows],
        levels,
    )


def read_portfolio(lake: Lake, principal: Principal) -> Portfolio | None:
    """The portfolio the principal may see, or None when the lake holds no loan book."""
    if not {"bank_loan", "bank_loan_monthly"} <= set(lake.tables()):
        return None
    where = ""
    params: list[object] = []
    if not principal.scope.all_branches:
        branches = sorted(principal.scope.branch_ids)
        where = f"and l.branch_id in ({', '.join('?' for _ in branches)})"
        params = list(branches)
    npl = ", ".join(f"'{c}'" for c in NPL_CLASSES)
    book = f"""
        select m.month, m.loan_id, m.uscc, l.branch_id,
               cast(m.outstanding_principal as double) as balance,
               m.classification in ({npl}) as is_npl
        from bank_loan_monthly as m
        join bank_loan as l on l.loan_id = m.loan_id
        where m.outstanding_principal > 0 {where}
    """
    with lake.connect() as connection:
        try:
            monthly = connection.execute(
                f"""with book as ({book})
                select month, sum(balance), count(distinct uscc), count(*),
                       sum(case when is_npl then balance else 0 end)
                from book group by month order by month""",
                params,
            ).fetchall()
            if not monthly:
                return Portfolio([], [], 0, None, None)
            latest = monthly[-1][0]
            by_branch = connection.execute(
                f"""with book as ({book})
                select branch_id, sum(balance), count(distinct uscc),
                       sum(case when is_npl then balance else 0 end)
                from book where month = ? group by branch_id order by 2 desc""",
                [*params, latest],
            ).fetchall()
            rates = dict(
                connection.execute(
                    f"""select extract(year from l.disbursed_on) as year,
                           sum(cast(l.annual_rate_bp as double) * cast(l.principal as double))
                           / nullif(sum(cast(l.principal as double)), 0)
                    from bank_loan as l
                    where l.disbursed_on <= ? and extract(year from l.disbursed_on) >= ? {where}
                    group by year""",
                    [latest, latest.year - 1, *params],
                ).fetchall()
            )
            first_loans = connection.execute(
                f"""with firsts as (
                    select l.uscc, min(l.disbursed_on) as first_on from bank_loan as l
                    where true {where} group by l.uscc)
                select count(*) from firsts
                where extract(year from first_on) = ? and first_on <= ?""",
                [*params, latest.year, latest],
            ).fetchone()
        except duckdb.Error:
            return None
    months = [MonthFigures(r[0], r[1] or 0.0, r[2], r[3], r[4] or 0.0) for r in monthly]
    december = next((m for m in months if m.month == date(months[-1].month.year - 1, 12, 1)), None)
    now = months[-1].month
    year_ago = next((m for m in months if m.month == date(now.year - 1, now.month, 1)), None)
    return Portfolio(
        months=months[-TREND_MONTHS:],
        branches=[BranchFigures(r[0], r[1] or 0.0, r[2], r[3] or 0.0) for r in by_branch],
        first_loan_borrowers=int(first_loans[0]) if first_loans else 0,
        balance_growth=(months[-1].balance / december.balance - 1)
        if december and december.balance
        else None,
        borrower_growth=(months[-1].borrowers / december.borrowers - 1)
        if december and december.borrowers
        else None,
        borrowers_year_ago=year_ago.borrowers if year_ago else None,
        rate_bp_by_year={int(year): float(rate) for year, rate in rates.items() if rate},
    )


@router.get("/portfolio")
def portfolio(request: Request, user: CurrentPageUser) -> HTMLResponse:
    if user.principal.role not in PORTFOLIO_ROLES:
        raise HTTPException(
            403, detail=f"role {user.principal.role.value} may not see the portfolio"
        )
    services = services_of(request)
    figures = read_portfolio(services.lake, user.principal)
    warnings = read_warning_levels(services.sessions, user.principal)
    charts = {}
    if figures and figures.months:
        charts["balance"] = line_svg(
            [(m.month, m.balance / 1e4) for m in figures.months], width=480, title="balance"
        )
        charts["npl"] = line_svg(
            [(m.month, (m.npl_ratio or 0) * 100) for m in figures.months], width=480, title="npl"
        )
    settings = services.settings
    inclusive = figures.inclusive_figures() if figures else None
    bank = BankWideFigures(settings.bank_loan_growth_ytd, settings.bank_npl_ratio)
    indicators = assess(inclusive, bank) if inclusive else []
    registry = ModelRegistry(services.sessions, settings.data_dir / "models")
    champions = [v for v in registry.versions() if v.status == "champion"]
    monitoring = (
        monitor_models(registry, settings.data_dir / "features", services.lake)
        if user.principal.role in MONITORING_ROLES
        else []
    )
    return render(
        request,
        "portfolio.html",
        user,
        figures=figures,
        charts=charts,
        champions=champions,
        indicators=indicators,
        monitoring=monitoring,
        warnings=warnings,
        dot=level_dot,
        level_names=LEVEL_NAMES,
    )
