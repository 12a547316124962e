"""What the lake holds, in the terms a bank's risk officer asks about first.

Row counts per source; the borrowers' annual default rate (the share of borrowers performing at
the start of a year who reach 90+ days past due within it, from the bank's own loan performance);
and, for a synthetic province, the application fraud rate from ground truth.
The queries run on any DuckDB connection whose views are named after the lake's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from puhui.data.schema import Catalog

DEFAULT_OVERDUE_DAYS = 90


@dataclass(frozen=True)
class SourceCount:
    source: str
    zh: str
    tables: int
    rows: int


@dataclass(frozen=True)
class LakeSummary:
    sources: list[SourceCount]
    enterprises: int
    borrowers: int
    borrower_years: int
    borrower_defaults: int
    applications: int
    fraudulent_applications: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def annual_default_rate(self) -> float | None:
        """Share of borrowers performing at a year's start who default within that year."""
        if self.borrower_years <= 0:
            return None
        return self.borrower_defaults / self.borrower_years

    @property
    def application_fraud_rate(self) -> float | None:
        if self.fraudulent_applications is None or self.applications == 0:
            return None
        return self.fraudulent_applications / self.applications


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _count(con: duckdb.DuckDBPyConnection, table: str, views: set[str]) -> int:
    if table not in views:
        return 0
    return int(con.execute(f'select count(*) from "{table}"').fetchone()[0])


_DEFAULTS_SQL = """
with loan_months as (
    select uscc, month, overdue_days from bank_loan_monthly
),
first_default as (
    select uscc, min(month) as default_month
    from loan_months
    where overdue_days >= $threshold
    group by uscc
),
year_starts as (
    -- the start of each full year of history, counted back from the last month
    select (max(month) - to_months(12 * k + 11))::date as year_start
    from loan_months, range(0, 10) as years(k)
    group by k
    having (max(month) - to_months(12 * k + 11))::date >= min(month)
),
cohort as (
    -- borrowers with a loan on the books and not yet in default at the start of the year
    select distinct y.year_start, m.uscc
    from year_starts as y
    join loan_months as m on m.month = y.year_start
    left join first_default as d on d.uscc = m.uscc
    where d.default_month is null or d.default_month > y.year_start
),
final as (
    select
        c.year_start,
        c.uscc,
        d.default_month is not null
            and d.default_month < c.year_start + interval 12 month as defaulted
    from cohort as c
    left join first_default as d on d.uscc = c.uscc
)
select count(*), coalesce(sum(defaulted::int), 0), count(distinct year_start)
from final
"""


def summarize_lake(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> LakeSummary:
    """Summarise a lake through a connection with one view per table."""
    views = _views(con)
    sources = []
    for source in catalog.sources:
        rows = sum(_count(con, t.name, views) for t in source.tables)
        sources.append(SourceCount(source.name, source.zh, len(source.tables), rows))
    notes: list[str] = []
    borrowers = borrower_years = defaults = 0
    if "bank_loan_monthly" in views:
        borrowers = int(
            con.execute("select count(distinct uscc) from bank_loan_monthly").fetchone()[0]
        )
        result = con.execute(_DEFAULTS_SQL, {"threshold": DEFAULT_OVERDUE_DAYS}).fetchone()
        borrower_years, defaults = int(result[0]), int(result[1])
    else:
        notes.append("no loan performance in the lake: default rate unknown")
    fraudulent: int | None = None
    if "truth_application" in views:
        fraudulent = int(
            con.execute("select count(*) from truth_application where is_fraud").fetchone()[0]
        )
    return LakeSummary(
        sources=sources,
        enterprises=_count(con, "reg_enterprise", views),
        borrowers=borrowers,
        borrower_years=borrower_years,
        borrower_defaults=defaults,
        applications=_count(con, "app_application", views),
        fraudulent_applications=fraudulent,
        notes=notes,
    )
