"""Point in time (时点): when each source's data becomes observable.

A feature as of date D may use a row only if the period it describes ended, and the source's
reporting lag passed, before D: a monthly row for month M needs ``last_day(M) + lag < D``; an
event dated d needs ``d + lag < D``. Everything here is pure date arithmetic so the rules can be
read and tested on their own.
"""

from __future__ import annotations

from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of shorter months."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_start(day: date) -> date:
    return day.replace(day=1)


def observation_cutoff(as_of: date, lag_days: int) -> date:
    """Rows whose period ended before this date are observable as of ``as_of``."""
    return as_of - timedelta(days=lag_days)


def anchor_month(as_of: date, lag_days: int) -> date:
    """The latest month whose monthly figures are observable as of ``as_of``."""
    return add_months(month_start(observation_cutoff(as_of, lag_days)), -1)


def month_index(month: date) -> int:
    """Months since year 0, the x axis of trend slopes (same formula in SQL)."""
    return month.year * 12 + month.month
