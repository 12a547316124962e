"""组合看板 · The risk officer's portfolio: balance, borrowers, first-loan borrowers, NPL ratio,
by month and by branch, from the lake's loan book (``bank_loan``, ``bank_loan_monthly``).

Branch managers see their branches only (by the loan's booking branch). Warnings by level and
model monitoring join this page when the alarm capability lands (see ``nav.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from puhui.actions.access import Principal, Role
from puhui.data.lake import Lake
from puhui.models.registry import ModelRegistry
from puhui.web.charts import line_svg
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, render, services_of

router = APIRouter(include_in_schema=False)
PORTFOLIO_ROLES = frozenset({Role.RISK_OFFICER, Role.ADMIN, Role.BRANCH_MANAGER})
register_nav(
    NavItem("portfolio", "/portfolio", "组合看板", "Portfolio", PORTFOLIO_ROLES, order=5,
            capability="portfolio")
)  # fmt: skip
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

    @property
    def latest(self) -> MonthFigures | None:
        return self.months[-1] if self.months else None


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
    )


@router.get("/portfolio")
def portfolio(request: Request, user: CurrentPageUser) -> HTMLResponse:
    if user.principal.role not in PORTFOLIO_ROLES:
        raise HTTPException(
            403, detail=f"role {user.principal.role.value} may not see the portfolio"
        )
    services = services_of(request)
    figures = read_portfolio(services.lake, user.principal)
    charts = {}
    if figures and figures.months:
        charts["balance"] = line_svg(
            [(m.month, m.balance / 1e4) for m in figures.months], width=480, title="balance"
        )
        charts["npl"] = line_svg(
            [(m.month, (m.npl_ratio or 0) * 100) for m in figures.months], width=480, title="npl"
        )
    registry = ModelRegistry(services.sessions, services.settings.data_dir / "models")
    champions = [v for v in registry.versions() if v.status == "champion"]
    return render(
        request, "portfolio.html", user, figures=figures, charts=charts, champions=champions
    )
