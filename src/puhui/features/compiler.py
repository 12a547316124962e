"""Compile the feature catalog into SQL relations, engine-neutral.

The plan is a list of named relations in DuckDB's SQL (Spark runs a transpiled copy):

* shared, once per build: ``person_link`` (firm → legal representative, spouse) and one
  ``base_<family>`` per monthly family (one row per firm-month with every metric);
* per as-of date: ``population``; one ``mw_<family>_<w>`` pass per monthly family and window,
  one ``ev_<family>`` pass per event family, one ``sql_<family>`` per SQL family; ``joined`` (all
  of them brought to the population, by joins or a packed union: see ``compile_plan``) and
  ``features`` (with the derived features on top).

One pass per window joined at the end, instead of one GROUP BY with a filter per window, is what
keeps 1,000+ aggregates over 100k firms inside a minute (see docs/BENCHMARKS.md). Every date is
a literal computed here, so the SQL carries no engine-specific date arithmetic; every value is
cast to DOUBLE so both engines produce identical types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from puhui.features.catalog import (
    FeatureCatalog,
    metric_expression,
    monthly_aggregates,
    window_aggregates,
)
from puhui.features.spec import DerivedFamily, EventFamily, MonthlyFamily, SqlFamily
from puhui.features.timing import add_months, anchor_month, month_index, observation_cutoff

# Bump when the SQL a definition compiles to changes, so stored snapshots are rebuilt.
PLAN_VERSION = 2
POPULATION_TABLE = "reg_enterprise"
PERSON_TABLE = "bureau_person"
_PLACEHOLDER = re.compile(r"\{(as_of|cutoff:[a-z_0-9]+|anchor:[a-z_0-9]+)\}")
_VALIDATION_DATE = date(2000, 1, 1)
_ZERO_WHEN_ABSENT = {"count", "distinct", "sum"}  # event measures: no event means 0
Assembly = Literal["join", "union"]


@dataclass(frozen=True)
class Relation:
    """One named step of a plan: ``create temp table <name> as <sql>``."""

    name: str
    sql: str


@dataclass(frozen=True)
class Partition:
    """One hash slice of the firms: a build in slices holds one slice's rows at a time."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count} does not exist")

    def predicate(self, column: str) -> str:
        """True for the firms of this slice (DuckDB's ``hash``; the DuckDB engine only)."""
        return f"hash({column}) % {self.count} = {self.index}"


@dataclass(frozen=True)
class FeaturePlan:
    """Relations to run once, then per as-of date; the last per-date relation is ``features``."""

    shared: tuple[Relation, ...]
    per_date: Mapping[date, tuple[Relation, ...]]
    columns: tuple[str, ...]  # feature names in output order (after uscc, as_of)
    tables: tuple[str, ...]  # lake tables read
    derived: tuple[tuple[str, str], ...] = ()  # derived feature → expression over ``joined``


def literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def compile_plan(
    catalog: FeatureCatalog,
    as_of_dates: Sequence[date],
    *,
    assembly: Assembly = "join",
    partition: Partition | None = None,
) -> FeaturePlan:
    """The relations that compute every feature of ``catalog`` as of each date.

    ``assembly`` says how the per-family results meet: ``join`` left-joins them all to the
    population in one query (DuckDB's hash joins take seventy at once); ``union`` stacks them,
    each packed into one struct column, and groups by firm (Spark: one shuffle, and no join
    whose rows grow to 1,000+ columns, which Spark executes in time growing faster than the
    width). Both give the same table. ``partition`` computes only one hash slice
    of the firms: the per-firm rows (population, monthly bases, events, SQL families' results)
    are restricted to the slice, while everything a firm's features read about *other* firms
    (shared phones, a person's other firms, supply chains) still sees the whole province.
    """
    if not as_of_dates:
        raise ValueError("no as-of dates")
    dates = sorted(set(as_of_dates))
    monthly = [f for f in catalog.families if isinstance(f, MonthlyFamily)]
    events = [f for f in catalog.families if isinstance(f, EventFamily)]
    sqls = [f for f in catalog.families if isinstance(f, SqlFamily)]
    derived = [f for f in catalog.families if isinstance(f, DerivedFamily)]
    needs_people = any(f.via != "uscc" for f in [*monthly, *events])

    shared: list[Relation] = []
    if needs_people:
        shared.append(Relation("person_link", _person_link_sql()))
    for family in monthly:
        first = min(
            add_months(anchor_month(d, catalog.lags[family.table]), -_lookback(family))
            for d in dates
        )
        last = anchor_month(dates[-1], catalog.lags[family.table])
        shared.append(Relation(f"base_{family.family}", _base_sql(family, first, last, partition)))

    per_date: dict[date, tuple[Relation, ...]] = {}
    for as_of in dates:
        relations = [Relation("population", _population_sql(as_of, partition))]
        outputs: list[tuple[str, str, float | None]] = []  # relation, feature, value if absent
        for family in monthly:
            anchor = anchor_month(as_of, catalog.lags[family.table])
            for window in family.windows:
                name = f"mw_{family.family}_{window}"
                sql, produced = _monthly_window_sql(family, window, anchor)
                relations.append(Relation(name, sql))
                outputs.extend(
                    (name, f, 0.0 if f.startswith(f"{family.family}_months_") else None)
                    for f in produced
                )
        for family in events:
            cutoff = observation_cutoff(as_of, catalog.lags[family.table])
            name = f"ev_{family.family}"
            sql, produced = _event_sql(family, cutoff, partition)
            relations.append(Relation(name, sql))
            outputs.extend((name, f, 0.0 if zero else None) for f, zero in produced)
        for family in sqls:
            name = f"sql_{family.family}"
            sql = _sql_family_sql(family, catalog.lags, as_of, partition)
            relations.append(Relation(name, sql))
            outputs.extend(
                (name, f"{family.family}_{o}", spec.fill) for o, spec in family.outputs.items()
            )
        assemble = _joined_sql if assembly == "join" else _stacked_sql
        relations.append(Relation("joined", assemble(as_of, outputs)))
        if partition is None:
            relations.append(Relation("features", _final_sql(outputs, derived)))
        per_date[as_of] = tuple(relations)

    columns = [feature for _, feature, _ in outputs]
    columns += [f"{family.family}_{o}" for family in derived for o in family.outputs]
    expected = catalog.names
    if sorted(columns) != sorted(expected):  # the compiler and the catalog must agree
        missing = sorted(set(expected) - set(columns))[:5]
        extra = sorted(set(columns) - set(expected))[:5]
        raise AssertionError(f"plan and catalog disagree: missing {missing}, extra {extra}")
    tables = {POPULATION_TABLE, *catalog.tables()}
    if needs_people:
        tables.add(PERSON_TABLE)
    expressions = tuple(
        (f"{family.family}_{name}", output.expr)
        for family in derived
        for name, output in family.outputs.items()
    )
    return FeaturePlan(tuple(shared), per_date, tuple(columns), tuple(sorted(tables)), expressions)


# --- shared relations ------------------------------------------------------------------------


def _person_link_sql() -> str:
    return (
        "select r.uscc, r.legal_rep_id as person_id, 'legal_representative' as via "
        f"from {POPULATION_TABLE} r "
        "union all "
        "select r.uscc, b.spouse_id as person_id, 'spouse' as via "
        f"from {POPULATION_TABLE} r join {PERSON_TABLE} b on b.person_id = r.legal_rep_id "
        "where b.spouse_id is not null"
    )


def _source(family: MonthlyFamily | EventFamily) -> tuple[str, str]:
    """The FROM clause and the firm column for a family read directly or through a person."""
    if family.via == "uscc":
        return f"{family.table} t", f"t.{family.key}"
    return (
        f"{family.table} t join person_link l "
        f"on t.{family.key} = l.person_id and l.via = '{family.via}'",
        "l.uscc",
    )


def _lookback(family: MonthlyFamily) -> int:
    """How many months before the anchor a family's widest window pass reads."""
    needed = 0
    for window in family.windows:
        back = window - 1
        aggregates = {a for m in family.metrics for a in monthly_aggregates(family, m)}
        if "growth" in aggregates:
            back = max(back, 2 * window - 1)
        if "yoy" in aggregates:
            back = max(back, window - 1 + 12)
        needed = max(needed, back)
    return needed


def _base_sql(family: MonthlyFamily, first: date, last: date, partition: Partition | None) -> str:
    source, firm = _source(family)
    slice_ = f" and {partition.predicate(firm)}" if partition else ""
    metrics = ", ".join(
        f"cast({metric_expression(family, m)} as double) as m_{m}" for m in family.metrics
    )
    return (
        f"select {firm} as uscc, t.month as month, "
        "year(t.month) * 12 + month(t.month) as month_index, "
        f"{metrics} "
        f"from {source} "
        f"where t.month between {literal(first)} and {literal(last)}{slice_} "
        f"group by {firm}, t.month"
    )


# --- per-date relations ----------------------------------------------------------------------


def _population_sql(as_of: date, partition: Partition | None) -> str:
    slice_ = f" and {partition.predicate('uscc')}" if partition else ""
    return (
        "select uscc, industry_code, division_code "
        f"from {POPULATION_TABLE} where founded_on < {literal(as_of)}{slice_}"
    )


def _when(condition: str, value: str) -> str:
    return f"case when {condition} then {value} end"


def _monthly_window_sql(family: MonthlyFamily, window: int, anchor: date) -> tuple[str, list[str]]:
    low = add_months(anchor, -(window - 1))
    inside = f"month >= {literal(low)}"
    previous_low, previous_high = add_months(low, -window), add_months(low, -1)
    before = f"month between {literal(previous_low)} and {literal(previous_high)}"
    year_ago = (
        f"month between {literal(add_months(low, -12))} and {literal(add_months(anchor, -12))}"
    )
    columns: list[str] = []
    produced: list[str] = []
    peaks: list[str] = []
    earliest = low
    for metric in family.metrics:
        value = f"m_{metric}"
        current = f"sum({_when(inside, value)})"
        for aggregate in window_aggregates(monthly_aggregates(family, metric), window):
            name = f"{family.family}_{metric}_{aggregate}_{window}m"
            if aggregate == "sum":
                expression = current
            elif aggregate == "mean":
                expression = f"avg({_when(inside, value)})"
            elif aggregate == "std":
                expression = f"stddev_samp({_when(inside, value)})"
            elif aggregate == "min":
                expression = f"min({_when(inside, value)})"
            elif aggregate == "max":
                expression = f"max({_when(inside, value)})"
            elif aggregate == "slope":
                # Months counted back from the anchor keep x small (numerically stable); a
                # slope needs two months, otherwise NULL rather than DuckDB's NaN.
                points = f"count({_when(inside, value)})"
                slope = f"regr_slope({_when(inside, value)}, month_index - {month_index(anchor)})"
                expression = f"case when {points} >= 2 then {slope} end"
            elif aggregate == "growth":
                prior = f"sum({_when(before, value)})"
                expression = f"({current} - {prior}) / nullif(abs({prior}), 0)"
                earliest = min(earliest, previous_low)
            elif aggregate == "yoy":
                prior = f"sum({_when(year_ago, value)})"
                expression = f"({current} - {prior}) / nullif(abs({prior}), 0)"
                earliest = min(earliest, add_months(low, -12))
            elif aggregate == "drawdown":
                peak = f"peak_{metric}"
                peaks.append(
                    f"max({value}) over (partition by uscc, {inside} order by month "
                    f"rows between unbounded preceding and current row) as {peak}"
                )
                expression = f"max({_when(inside, f'({peak} - {value}) / nullif(abs({peak}), 0)')})"
            else:  # pragma: no cover - the spec's Literal forbids it
                raise AssertionError(aggregate)
            columns.append(f"cast({expression} as double) as {name}")
            produced.append(name)
    if family.coverage and window > 1:
        name = f"{family.family}_months_reported_{window}m"
        columns.append(f"cast(count({_when(inside, '1')}) as double) as {name}")
        produced.append(name)
    rows = f"base_{family.family}"
    bounds = f"month between {literal(earliest)} and {literal(anchor)}"
    if peaks:
        rows = f"(select *, {', '.join(peaks)} from {rows} where {bounds}) b"
    sql = f"select uscc, {', '.join(columns)} from {rows} where {bounds} group by uscc"
    return sql, produced


def _event_sql(
    family: EventFamily, cutoff: date, partition: Partition | None
) -> tuple[str, list[tuple[str, bool]]]:
    source, firm = _source(family)
    day = f"cast(t.{family.date} as date)"
    columns: list[str] = []
    produced: list[tuple[str, bool]] = []
    for measure_name, measure in family.measures.items():
        for window in family.windows:
            inside = f"{day} >= {literal(add_months(cutoff, -window))}"
            column = f"t.{measure.column}" if measure.column else "1"
            if measure.aggregate == "count":
                expression = f"count({_when(inside, '1')})"
            elif measure.aggregate == "distinct":
                expression = f"count(distinct {_when(inside, column)})"
            elif measure.aggregate == "sum":
                expression = f"sum({_when(inside, column)})"
            elif measure.aggregate == "max":
                expression = f"max({_when(inside, column)})"
            else:
                expression = f"avg({_when(inside, column)})"
            name = f"{family.family}_{measure_name}_{window}m"
            columns.append(f"cast({expression} as double) as {name}")
            produced.append((name, measure.aggregate in _ZERO_WHEN_ABSENT))
    if family.recency:
        name = f"{family.family}_days_since_last"
        columns.append(f"cast(date_diff('day', max({day}), {literal(cutoff)}) as double) as {name}")
        produced.append((name, False))
    condition = f"{day} < {literal(cutoff)}"
    if family.where:
        condition += f" and ({family.where})"
    if partition:
        condition += f" and {partition.predicate(firm)}"
    select = f"select {firm} as uscc, {', '.join(columns)} from {source}"
    return f"{select} where {condition} group by {firm}", produced


def render_sql_family(family: SqlFamily, lags: Mapping[str, int], as_of: date | None) -> str:
    """The family's query with its date placeholders filled in (validation uses a fixed date)."""
    day = as_of or _VALIDATION_DATE

    def fill(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "as_of":
            return literal(day)
        kind, table = token.split(":", 1)
        if table not in lags:
            raise ValueError(f"placeholder {{{token}}} names a table without a lag")
        if kind == "cutoff":
            return literal(observation_cutoff(day, lags[table]))
        return literal(anchor_month(day, lags[table]))

    return _PLACEHOLDER.sub(fill, family.sql)


def _sql_family_sql(
    family: SqlFamily, lags: Mapping[str, int], as_of: date, partition: Partition | None
) -> str:
    columns = ", ".join(
        f"cast(q.{name} as double) as {family.family}_{name}" for name in family.outputs
    )
    sql = f"select q.uscc, {columns} from ({render_sql_family(family, lags, as_of)}) q"
    return f"{sql} where {partition.predicate('q.uscc')}" if partition else sql


def _joined_sql(as_of: date, outputs: list[tuple[str, str, float | None]]) -> str:
    """Every result left-joined to the population in one query."""
    relations = list(dict.fromkeys(relation for relation, _, _ in outputs))
    alias = {relation: f"r{i}" for i, relation in enumerate(relations)}
    columns = [
        _filled(f"{alias[relation]}.{feature}", feature, fill)
        for relation, feature, fill in outputs
    ]
    joins = " ".join(
        f"left join {relation} {alias[relation]} on {alias[relation]}.uscc = p.uscc"
        for relation in relations
    )
    head = f"p.uscc, {literal(as_of)} as as_of, p.industry_code, p.division_code"
    return f"select {head}, {', '.join(columns)} from population p {joins}"


def _stacked_sql(as_of: date, outputs: list[tuple[str, str, float | None]]) -> str:
    """The same table as ``_joined_sql``, by stacking packed results and grouping by firm.

    Each result (and the population) becomes one struct column of a union, NULL in the rows of
    the others; ``max`` per firm picks the one row a result has for the firm (every result has
    at most one row per firm), and firms outside the population are dropped.
    """
    relations = list(dict.fromkeys(relation for relation, _, _ in outputs))
    fields: dict[str, list[str]] = {"population": ["industry_code", "division_code"]}
    for relation, feature, _ in outputs:
        fields.setdefault(relation, []).append(feature)
    packs = {relation: f"k{i}" for i, relation in enumerate(["population", *relations])}
    branches = []
    for relation, pack in packs.items():
        values = [
            f"struct_pack({', '.join(f'{f} := {f}' for f in fields[relation])}) as {pack}"
            if other == relation
            else f"null as {other_pack}"
            for other, other_pack in packs.items()
        ]
        branches.append(f"select uscc, {', '.join(values)} from {relation}")
    grouped = ", ".join(f"max({pack}) as {pack}" for pack in packs.values())
    columns = [
        _filled(f"g.{packs[relation]}.{feature}", feature, fill)
        for relation, feature, fill in outputs
    ]
    population = packs["population"]
    head = (
        f"g.uscc, {literal(as_of)} as as_of, "
        f"g.{population}.industry_code as industry_code, "
        f"g.{population}.division_code as division_code"
    )
    return (
        f"select {head}, {', '.join(columns)} "
        f"from (select uscc, {grouped} from ({' union all '.join(branches)}) u group by uscc) g "
        f"where g.{population} is not null"
    )


def _filled(column: str, feature: str, fill: float | None) -> str:
    return (
        f"{column} as {feature}" if fill is None else f"coalesce({column}, {fill!r}) as {feature}"
    )


def _final_sql(
    outputs: list[tuple[str, str, float | None]], derived: Sequence[DerivedFamily]
) -> str:
    columns = ["uscc", "as_of", *(feature for _, feature, _ in outputs)]
    for family in derived:
        for name, output in family.outputs.items():
            columns.append(f"cast({output.expr} as double) as {family.family}_{name}")
    return f"select {', '.join(columns)} from joined"


def derived_sql(plan: FeaturePlan, source: str) -> str:
    """The derived features of every firm in ``source`` (rows shaped like ``joined``)."""
    columns = ["uscc", *(f"cast({expr} as double) as {name}" for name, expr in plan.derived)]
    return f"select {', '.join(columns)} from {source}"
