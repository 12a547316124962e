"""The signal library as SQL for one scan date (DuckDB dialect; Spark runs a sqlglot copy).

Relations, in order:

* ``person_link``: firm → legal representative (for families read through the person);
* ``population``: the borrowers on the scan date (a loan disbursed before it, not matured, not
  repaid or written off at the last closed month end), with branch and account manager;
* one ``val_<family>`` per family: long rows (uscc, measure_id, value, evidence_date), one per
  measure and window, computed for every firm in the table (so a monthly family's result can
  be reused on every day of the same anchor month: the incremental scan);
* ``fired``: values joined to the thresholds, kept for borrowers only.

Every date is a literal computed here from the point-in-time rules of
``puhui.features.timing`` (the same reporting lags as the feature store), so a signal as of D
uses only rows a bank could see before D and the SQL carries no engine-specific date maths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from puhui.decisions.alarm.spec import FamilySpec, MeasureSpec, SignalLibrary
from puhui.features.timing import add_months, anchor_month, observation_cutoff

PLAN_VERSION = 1
POPULATION_TABLES = ("bank_loan", "bank_loan_monthly", "reg_enterprise")


@dataclass(frozen=True)
class Relation:
    name: str
    sql: str


@dataclass(frozen=True)
class FamilyStep:
    """One family's relation and what its result depends on (for caching between days)."""

    family: str
    table: str
    relation: Relation  # the long result, val_<family>
    period: date  # the anchor month (monthly) or observation cut-off (events)
    reusable: bool  # monthly results hold for every day of the same anchor month
    aggregate: Relation  # one wide row per firm, agg_<family>, read by ``relation``

    def cache_key(self, lake_state: str) -> str:
        text = f"{PLAN_VERSION}|{self.aggregate.sql}|{self.relation.sql}|{lake_state}"
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ScanPlan:
    as_of: date
    shared: tuple[Relation, ...]  # person_link, population
    families: tuple[FamilyStep, ...]
    fired: Relation
    tables: tuple[str, ...]


def literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def population_sql(as_of: date, lags: Mapping[str, int]) -> str:
    closed = anchor_month(as_of, lags.get("bank_loan_monthly", 0))
    return f"""
        with loans as (
            select l.loan_id, l.uscc, l.branch_id, l.account_manager_id
            from bank_loan as l
            where l.disbursed_on < {literal(as_of)} and l.maturity_on >= {literal(as_of)}
        ),
        performance as (
            select m.loan_id, m.status, m.overdue_days, m.outstanding_principal
            from bank_loan_monthly as m
            where m.month = {literal(closed)}
        ),
        final as (
            select loans.uscc,
                   min(loans.branch_id) as branch_id,
                   min(loans.account_manager_id) as account_manager_id,
                   cast(coalesce(max(p.overdue_days), 0) as double) as overdue_days,
                   cast(count(*) as double) as loans
            from loans
            left join performance as p on p.loan_id = loans.loan_id
            where coalesce(p.status, 'active') = 'active'
            group by loans.uscc
        )
        select * from final
    """


PERSON_LINK_SQL = """
    select r.uscc, r.legal_rep_id as person_id
    from reg_enterprise as r
    where r.legal_rep_id is not null
"""


def _source(family: FamilySpec) -> tuple[str, str]:
    if family.via == "uscc":
        return f"{family.table} as t", f"t.{family.key}"
    return f"{family.table} as t join person_link as l on t.{family.key} = l.person_id", "l.uscc"


def _long(rows: Sequence[tuple[str, str, str]], source: str) -> str:
    """Union of (measure_id, value expression, evidence expression) over ``source``."""
    parts = [
        f"select uscc, {_quote(measure_id)} as measure_id, cast({value} as double) as value, "
        f"{evidence} as evidence_date from {source} where {value} is not null"
        for measure_id, value, evidence in rows
    ]
    return "\nunion all\n".join(parts)


def event_sql(family: FamilySpec, cutoff: date) -> tuple[str, str]:
    """The wide aggregate per firm and its long form (read from ``agg_<family>``)."""
    source, firm = _source(family)
    widest = max(family.windows)
    day = f"cast(t.{family.date} as date)"
    where = [f"{day} < {literal(cutoff)}", f"{day} >= {literal(cutoff - timedelta(days=widest))}"]
    if family.where:
        where.append(f"({family.where})")
    columns, rows = [], []
    for window in family.windows:
        start = literal(cutoff - timedelta(days=window))
        columns.append(f"max(case when {day} >= {start} then {day} end) as last_{window}")
        for name, measure in family.measures.items():
            alias = f"{name}_{window}"
            if measure.aggregate == "count":
                expr = f"count(case when {day} >= {start} then 1 end)"
            else:
                expr = (
                    f"{measure.aggregate}(case when {day} >= {start} then t.{measure.column} end)"
                )
            columns.append(f"{expr} as {alias}")
            rows.append(
                (
                    f"{family.family}.{name}.{window}d",
                    f"case when last_{window} is not null then {alias} end",
                    f"last_{window}",
                )
            )
    aggregated = (
        f"select {firm} as uscc, {', '.join(columns)} from {source} "
        f"where {' and '.join(where)} group by {firm}"
    )
    return aggregated, _long(rows, f"agg_{family.family}")


def _lookback(family: FamilySpec) -> int:
    back = 0
    for measure in family.measures.values():
        for window in family.windows:
            need = {
                "drop": 2 * window - 1,
                "yoy_drop": window - 1 + 12,
                "rise": window,
            }.get(measure.aggregate, window - 1)
            back = max(back, need)
    return back


def _monthly_measure(name: str, measure: MeasureSpec, window: int, anchor: date) -> str:
    metric = f"m_{measure.column}"
    first = add_months(anchor, -(window - 1))
    current = f"month >= {literal(first)}"
    if measure.aggregate == "mean":
        return f"avg(case when {current} then {metric} end)"
    if measure.aggregate == "max":
        return f"max(case when {current} then {metric} end)"
    if measure.aggregate in {"drop", "yoy_drop"}:
        shift = window if measure.aggregate == "drop" else 12
        lo, hi = add_months(first, -shift), add_months(anchor, -shift)
        before = f"sum(case when month between {literal(lo)} and {literal(hi)} then {metric} end)"
        now = f"coalesce(sum(case when {current} then {metric} end), 0)"
        return f"case when {before} > 0 then 1 - {now} / {before} end"
    if measure.aggregate == "rise":
        then = literal(add_months(anchor, -window))
        return (
            f"max(case when month = {literal(anchor)} then {metric} end) "
            f"- max(case when month = {then} then {metric} end)"
        )
    if measure.aggregate == "months_positive":
        return f"count(case when {current} and {metric} > 0 then 1 end)"
    if measure.aggregate == "months_zero":
        # only for firms reporting before the window: a firm founded inside it is not "silent"
        return (
            f"case when min(month) < {literal(first)} "
            f"then {window} - count(case when {current} and {metric} > 0 then 1 end) end"
        )
    raise AssertionError(f"{name}: unknown aggregate {measure.aggregate}")


def monthly_sql(family: FamilySpec, anchor: date) -> tuple[str, str]:
    """The wide aggregate per firm and its long form (read from ``agg_<family>``)."""
    source, firm = _source(family)
    first = add_months(anchor, -_lookback(family))
    metrics = ", ".join(f"cast({expr} as double) as m_{m}" for m, expr in family.metrics.items())
    where = f"t.month between {literal(first)} and {literal(anchor)}"
    if family.where:
        where += f" and ({family.where})"
    base = (
        f"select {firm} as uscc, t.month as month, {metrics} from {source} "
        f"where {where} group by {firm}, t.month"
    )
    columns, rows = [], []
    for window in family.windows:
        for name, measure in family.measures.items():
            alias = f"{name}_{window}"
            columns.append(f"{_monthly_measure(name, measure, window, anchor)} as {alias}")
            rows.append((f"{family.family}.{name}.{window}m", alias, literal(anchor)))
    aggregated = f"select uscc, {', '.join(columns)} from ({base}) as base group by uscc"
    return aggregated, _long(rows, f"agg_{family.family}")


def thresholds_sql(library: SignalLibrary, families: Sequence[str]) -> str:
    chosen = set(families)
    values = ", ".join(
        f"({_quote(s.measure_id)}, {_quote(s.signal_id)}, cast({s.threshold!r} as double))"
        for s in library.signals
        if s.family in chosen
    )
    return f"select * from (values {values}) as th(measure_id, signal_id, threshold)"


def compile_scan(
    library: SignalLibrary,
    as_of: date,
    lags: Mapping[str, int],
    *,
    skip_tables: Sequence[str] = (),
) -> ScanPlan:
    """The relations that evaluate every signal as of ``as_of``.

    ``skip_tables``: sources whose feed is missing for the day; their signals are not
    evaluated at all (unknown), never evaluated on absent rows (which would read "no risk").
    """
    skipped = set(skip_tables)
    steps: list[FamilyStep] = []
    needs_people = False
    for family in library.families:
        if family.table in skipped:
            continue
        lag = lags.get(family.table, 0)
        needs_people |= family.via != "uscc"
        if family.kind == "event":
            cutoff = observation_cutoff(as_of, lag)
            (wide, long), period, reusable = event_sql(family, cutoff), cutoff, False
        else:
            anchor = anchor_month(as_of, lag)
            (wide, long), period, reusable = monthly_sql(family, anchor), anchor, True
        steps.append(
            FamilyStep(
                family.family,
                family.table,
                Relation(f"val_{family.family}", long),
                period,
                reusable,
                Relation(f"agg_{family.family}", wide),
            )
        )
    shared = [Relation("population", population_sql(as_of, lags))]
    if needs_people:
        shared.insert(0, Relation("person_link", PERSON_LINK_SQL))
    if steps:
        values = " union all ".join(f"select * from {s.relation.name}" for s in steps)
        fired_sql = f"""
            with thresholds as ({thresholds_sql(library, [s.family for s in steps])}),
            measured as ({values})
            select m.uscc, th.signal_id, m.value, m.evidence_date
            from measured as m
            join thresholds as th on th.measure_id = m.measure_id and m.value >= th.threshold
            join population as p on p.uscc = m.uscc
        """
    else:
        fired_sql = (
            "select cast(null as varchar) as uscc, cast(null as varchar) as signal_id, "
            "cast(null as double) as value, cast(null as date) as evidence_date where 1 = 0"
        )
    tables = {*POPULATION_TABLES, *(s.table for s in steps)}
    return ScanPlan(
        as_of, tuple(shared), tuple(steps), Relation("fired", fired_sql), tuple(sorted(tables))
    )
