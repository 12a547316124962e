"""A simulated credit bureau backed by the synthetic province's bureau tables in the lake.

Reads ``bureau_enterprise_monthly``, ``bureau_enterprise_query``, ``bureau_person``,
``bureau_person_monthly`` and ``bureau_person_query`` through DuckDB. "As of" a date means the
latest month-end row on or before that date, and queries in the twelve months before it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from puhui.adapters.bureau.reports import (
    EnterpriseMonth,
    EnterpriseReport,
    PersonalReport,
    SubjectNotInBureauError,
)
from puhui.data.identifiers import mask_id_number

_HISTORY_MONTHS = 24


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


class SimulatedBureau:
    """``CreditBureau`` over the lake; one DuckDB connection per report."""

    def __init__(self, lake_dir: Path) -> None:
        self.lake_dir = Path(lake_dir)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        from puhui.data.lake import Lake

        return Lake(self.lake_dir).connect()

    def enterprise_report(self, uscc: str, as_of: date) -> EnterpriseReport:
        with self._connect() as connection:
            rows = (
                _records(
                    connection.execute(
                        "select * from bureau_enterprise_monthly where uscc = ? and month <= ? "
                        "order by month desc limit ?",
                        [uscc, as_of, _HISTORY_MONTHS],
                    )
                )
                if _exists(connection, "bureau_enterprise_monthly")
                else []
            )
            if not rows:
                raise SubjectNotInBureauError(
                    f"the bureau has no enterprise report for {uscc} as of {as_of.isoformat()}"
                )
            queries = _count_queries(connection, "bureau_enterprise_query", "uscc", uscc, as_of)
        latest = rows[0]
        return EnterpriseReport(
            uscc=uscc,
            as_of=as_of,
            report_month=latest["month"],
            lender_count=latest["lender_count"],
            loan_balance=Decimal(latest["loan_balance"]),
            overdue_amount=Decimal(latest["overdue_amount"]),
            max_overdue_days=latest["max_overdue_days"],
            non_performing_balance=Decimal(latest["non_performing_balance"]),
            special_mention_balance=Decimal(latest["special_mention_balance"]),
            guarantee_balance=Decimal(latest["guarantee_balance"]),
            ever_borrowed=bool(latest["ever_borrowed"]),
            queries_last_12_months=queries,
            history=tuple(
                EnterpriseMonth(
                    month=row["month"],
                    lender_count=row["lender_count"],
                    loan_balance=Decimal(row["loan_balance"]),
                    overdue_amount=Decimal(row["overdue_amount"]),
                    max_overdue_days=row["max_overdue_days"],
                )
                for row in rows
            ),
        )

    def personal_report(self, person_id: str, as_of: date) -> PersonalReport:
        with self._connect() as connection:
            header = (
                _records(
                    connection.execute(
                        "select * from bureau_person where person_id = ?", [person_id]
                    )
                )
                if _exists(connection, "bureau_person")
                else []
            )
            if not header:
                raise SubjectNotInBureauError(
                    f"the bureau has no personal report for {mask_id_number(person_id)}"
                )
            months = (
                _records(
                    connection.execute(
                        "select * from bureau_person_monthly where person_id = ? and month <= ? "
                        "order by month desc limit 1",
                        [person_id, as_of],
                    )
                )
                if _exists(connection, "bureau_person_monthly")
                else []
            )
            queries = _count_queries(
                connection, "bureau_person_query", "person_id", person_id, as_of
            )
        person = header[0]
        latest: dict[str, Any] = months[0] if months else {}
        return PersonalReport(
            person_id=person_id,
            as_of=as_of,
            report_month=latest.get("month"),
            marital_status=person["marital_status"],
            education=person.get("education"),
            first_credit_on=person.get("first_credit_on"),
            loan_count=latest.get("loan_count", 0),
            loan_balance=Decimal(latest.get("loan_balance", 0)),
            card_count=latest.get("card_count", 0),
            card_limit=Decimal(latest.get("card_limit", 0)),
            card_used=Decimal(latest.get("card_used", 0)),
            overdue_accounts=latest.get("overdue_accounts", 0),
            overdue_amount=Decimal(latest.get("overdue_amount", 0)),
            worst_status_24m=latest.get("worst_status_24m", 0),
            queries_last_12_months=queries,
        )


def _records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the lake has any batch of ``table`` (a view exists only then)."""
    found = connection.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(found and found[0])


def _count_queries(
    connection: duckdb.DuckDBPyConnection, table: str, key: str, value: str, as_of: date
) -> int:
    if not _exists(connection, table):
        return 0
    end = datetime.combine(as_of, time.max, tzinfo=UTC)
    start = datetime.combine(_year_before(as_of), time.min, tzinfo=UTC)
    row = connection.execute(
        f"select count(*) from {table} where {key} = ? and queried_at between ? and ?",
        [value, start, end],
    ).fetchone()
    return int(row[0]) if row else 0
