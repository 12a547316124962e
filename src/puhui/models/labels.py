"""Targets from what the bank observes (标签): never the simulator's ``truth_*`` tables.

*Behaviour / early-warning* labels: for each firm with an active loan at month end ``as_of``,
whether any of its loans reaches 90+ days overdue in the months (as_of, as_of + h], for
h = 3, 6, 12. A label is missing (not matured) when the lake does not yet reach as_of + h.

*Application* labels: for each approved application that became a loan, whether that loan (any
of the firm's loans from it) reaches 90+ days overdue within 12 months of disbursement.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

DEFAULT_HORIZONS = (3, 6, 12)
DEFAULT_OVERDUE_DAYS = 90


def _horizon_columns(horizons: Sequence[int], overdue_days: int) -> str:
    parts = []
    for h in horizons:
        parts.append(
            f"""case when a.as_of + interval {h} month > (select last_month from span) then null
                 else coalesce(bool_or(f.month > a.as_of and f.month <= a.as_of + interval {h} month
                                       and f.overdue_days >= {overdue_days}), false)::int end
                 as default_{h}m"""
        )
    return ",\n".join(parts)


def behaviour_labels(
    connection: duckdb.DuckDBPyConnection,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    overdue_days: int = DEFAULT_OVERDUE_DAYS,
) -> pl.DataFrame:
    """One row per (uscc, as_of) with an active, not yet defaulted loan; ``default_<h>m`` 0/1/null.

    Firms already 90+ overdue at as_of are left out: they have defaulted, there is nothing to
    predict. ``connection`` is ``Lake(root).connect()`` (views over the lake's tables).
    """
    horizons = tuple(int(h) for h in horizons)
    sql = f"""
    with span as (select max(month) as last_month from bank_loan_monthly),
    active as (
        select uscc, month as as_of, max(overdue_days) as worst_overdue
        from bank_loan_monthly
        where status = 'active'
        group by uscc, month
    ),
    eligible as (select uscc, as_of from active where worst_overdue < {int(overdue_days)}),
    final as (
        select a.uscc, a.as_of,
               {_horizon_columns(horizons, int(overdue_days))}
        from eligible as a
        left join bank_loan_monthly as f
          on f.uscc = a.uscc and f.month > a.as_of
         and f.month <= a.as_of + interval {max(horizons)} month
        group by a.uscc, a.as_of
    )
    select * from final order by uscc, as_of
    """
    frame = pl.from_arrow(connection.sql(sql).to_arrow_table())
    return frame.with_columns(pl.col("as_of").cast(pl.Date))


def application_labels(
    connection: duckdb.DuckDBPyConnection,
    horizon_months: int = 12,
    overdue_days: int = DEFAULT_OVERDUE_DAYS,
) -> pl.DataFrame:
    """One row per application: approved, booked (became a loan) and bad within the horizon.

    ``bad_<h>m`` is 1 when a loan from the application reaches ``overdue_days`` within
    ``horizon_months`` of disbursement, 0 when it did not and the window has matured, null
    otherwise (rejected, not booked, or too recent). ``matured`` says whether the whole window
    lies within the lake: training sets keep only matured rows, because an early bad in a young
    cohort would otherwise raise that cohort's bad rate.
    """
    h = int(horizon_months)
    sql = f"""
    with span as (select max(month) as last_month from bank_loan_monthly),
    booked as ({_booked_loans(h, overdue_days, "went_bad")}),
    final as (
        select a.application_id, a.uscc, cast(a.applied_at as date) as applied_on,
               a.decision = 'approved' as approved,
               b.application_id is not null as booked,
               b.disbursed_on,
               coalesce(b.disbursed_on + interval {h} month <= (select last_month from span),
                        false) as matured,
               case when b.application_id is null then null
                    when coalesce(b.went_bad, false) then 1
                    when b.disbursed_on + interval {h} month > (select last_month from span)
                         then null
                    else 0 end as bad_{h}m
        from app_application as a
        left join booked as b on b.application_id = a.application_id
    )
    select * from final order by applied_on, application_id
    """
    return pl.from_arrow(connection.sql(sql).to_arrow_table())


def _booked_loans(horizon_months: int, overdue_days: int, flag: str) -> str:
    """Booked applications with their disbursal date and whether a loan from each reached
    ``overdue_days`` within ``horizon_months`` of disbursement (the ``flag`` column)."""
    return f"""
        select l.application_id, min(l.disbursed_on) as disbursed_on,
               bool_or(m.overdue_days >= {int(overdue_days)}
                       and m.month <= l.disbursed_on + interval {int(horizon_months)} month)
                   as {flag}
        from bank_loan as l
        left join bank_loan_monthly as m on m.loan_id = l.loan_id
        where l.application_id is not null
        group by l.application_id
    """


def first_payment_default_labels(
    connection: duckdb.DuckDBPyConnection,
    horizon_months: int = 6,
    overdue_days: int = DEFAULT_OVERDUE_DAYS,
) -> pl.DataFrame:
    """The observable proxy for application fraud (首期违约 · first-payment default).

    Which applications were fraudulent is known only to the simulator; a bank sees fraud as a
    loan that is never serviced. ``fpd_<h>m`` is 1 when a loan from the application reaches
    ``overdue_days`` within ``horizon_months`` of disbursement *and* the firm had no earlier
    delinquency (no day overdue at this bank and none in the credit bureau in the months before
    the application), 0 when it did not and the window has matured. Applications from firms
    with earlier delinquency are left null: their quick default looks like credit distress,
    not fraud, and would blur the label. Rejected and never-booked applications are null too.
    """
    h = int(horizon_months)
    sql = f"""
    with span as (select max(month) as last_month from bank_loan_monthly),
    booked as ({_booked_loans(h, overdue_days, "early_default")}),
    bank_history as (
        select a.application_id, bool_or(m.overdue_days > 0) as delinquent
        from app_application as a
        join bank_loan_monthly as m
          on m.uscc = a.uscc and m.month < date_trunc('month', a.applied_at)
        group by a.application_id
    ),
    bureau_history as (
        select a.application_id, bool_or(b.max_overdue_days > 0) as delinquent
        from app_application as a
        join bureau_enterprise_monthly as b
          on b.uscc = a.uscc and b.month < date_trunc('month', a.applied_at)
        group by a.application_id
    ),
    final as (
        select a.application_id, a.uscc, cast(a.applied_at as date) as applied_on,
               b.disbursed_on,
               coalesce(k.delinquent, false) or coalesce(u.delinquent, false)
                   as prior_delinquency,
               b.disbursed_on + interval {h} month <= (select last_month from span) as matured,
               case when coalesce(k.delinquent, false) or coalesce(u.delinquent, false)
                         then null
                    when coalesce(b.early_default, false) then 1
                    when b.disbursed_on + interval {h} month > (select last_month from span)
                         then null
                    else 0 end as fpd_{h}m
        from app_application as a
        join booked as b on b.application_id = a.application_id
        left join bank_history as k on k.application_id = a.application_id
        left join bureau_history as u on u.application_id = a.application_id
    )
    select * from final order by applied_on, application_id
    """
    return pl.from_arrow(connection.sql(sql).to_arrow_table())


def propensity_labels(
    connection: duckdb.DuckDBPyConnection,
    population: pl.DataFrame,
    horizon_months: int = 6,
) -> pl.DataFrame:
    """Will a prospect take a loan (营销响应)? For each (uscc, as_of) of ``population`` whose
    firm has no active loan at the end of the month before ``as_of``: ``took_loan_<h>m`` is 1
    when a loan is disbursed on or after ``as_of`` and before ``as_of + h`` months, 0 when none
    was and that window lies within the lake, null when it does not yet.

    ``as_of`` is a first of month (a feature snapshot date): the month before it is the last one
    the bank has closed, and the window starts where the features stop.
    """
    h = int(horizon_months)
    keys = population.select("uscc", pl.col("as_of").cast(pl.Date)).unique().to_arrow()
    sql = f"""
    with span as (select max(month) as last_month from bank_loan_monthly),
    borrowing as (
        select distinct uscc, month + interval 1 month as as_of
        from bank_loan_monthly
        where status = 'active'
    ),
    prospects as (
        select k.uscc, k.as_of
        from propensity_keys as k
        anti join borrowing as b on b.uscc = k.uscc and b.as_of = k.as_of
    ),
    final as (
        select p.uscc, p.as_of,
               case when p.as_of + interval {h - 1} month > (select last_month from span)
                         then null
                    else coalesce(bool_or(l.disbursed_on >= p.as_of
                                          and l.disbursed_on < p.as_of + interval {h} month),
                                  false)::int end as took_loan_{h}m
        from prospects as p
        left join bank_loan as l
          on l.uscc = p.uscc and l.disbursed_on >= p.as_of
         and l.disbursed_on < p.as_of + interval {h} month
        group by p.uscc, p.as_of
    )
    select * from final order by uscc, as_of
    """
    connection.register("propensity_keys", keys)
    try:
        frame = pl.from_arrow(connection.sql(sql).to_arrow_table())
    finally:
        connection.unregister("propensity_keys")
    return frame.with_columns(pl.col("as_of").cast(pl.Date))
