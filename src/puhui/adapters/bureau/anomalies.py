"""Anomalies in bureau queries, flagged to the auditor role (征信查询异常).

Three patterns the audit function looks for: one staff member querying too much in a day,
queries outside working hours (Asia/Shanghai), and queries for firms that belong to another
branch than the staff member's (a branch-level member of staff covers its sub-branches).
``flag_anomalies`` is pure; ``load_query_facts`` reads the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.data.store.consent_tables import BureauQuery
from puhui.data.store.tables import Branch, Enterprise

SHANGHAI = ZoneInfo("Asia/Shanghai")


class AnomalyKind(StrEnum):
    TOO_MANY_QUERIES = "too_many_queries"
    OUTSIDE_WORKING_HOURS = "outside_working_hours"
    OTHER_BRANCH = "other_branch"


@dataclass(frozen=True)
class AnomalyPolicy:
    """Thresholds; the defaults suit a sub-branch account manager."""

    max_queries_per_day: int = 20
    work_start: time = time(8, 30)
    work_end: time = time(18, 0)
    working_weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    time_zone: ZoneInfo = SHANGHAI


@dataclass(frozen=True)
class QueryFact:
    """What anomaly rules need to know about one logged query."""

    query_id: int
    staff_id: str
    staff_branch_id: str | None
    queried_at: datetime
    subject_uscc: str | None
    firm_branch_id: str | None


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    staff_id: str
    message: str
    query_ids: tuple[int, ...]
    day: date


def _covers(staff_branch: str, firm_branch: str, parents: Mapping[str, str | None]) -> bool:
    branch: str | None = firm_branch
    while branch is not None:
        if branch == staff_branch:
            return True
        branch = parents.get(branch)
    return False


def flag_anomalies(
    facts: Iterable[QueryFact],
    policy: AnomalyPolicy = AnomalyPolicy(),
    *,
    branch_parents: Mapping[str, str | None] | None = None,
) -> list[Anomaly]:
    """Every anomaly in ``facts``, ordered by day, staff and kind."""
    parents = branch_parents or {}
    facts = list(facts)
    found: list[Anomaly] = []
    per_day: dict[tuple[str, date], list[int]] = {}
    for fact in facts:
        local = fact.queried_at.astimezone(policy.time_zone)
        day = local.date()
        per_day.setdefault((fact.staff_id, day), []).append(fact.query_id)
        in_hours = policy.work_start <= local.time() < policy.work_end
        if local.weekday() not in policy.working_weekdays or not in_hours:
            found.append(
                Anomaly(
                    AnomalyKind.OUTSIDE_WORKING_HOURS,
                    fact.staff_id,
                    f"query {fact.query_id} at {local:%Y-%m-%d %H:%M} ({local:%a}) Asia/Shanghai "
                    f"is outside working hours {policy.work_start:%H:%M}–{policy.work_end:%H:%M}",
                    (fact.query_id,),
                    day,
                )
            )
        if (
            fact.firm_branch_id is not None
            and fact.staff_branch_id is not None
            and not _covers(fact.staff_branch_id, fact.firm_branch_id, parents)
        ):
            found.append(
                Anomaly(
                    AnomalyKind.OTHER_BRANCH,
                    fact.staff_id,
                    f"query {fact.query_id} for firm {fact.subject_uscc} of branch "
                    f"{fact.firm_branch_id} by staff of branch {fact.staff_branch_id}",
                    (fact.query_id,),
                    day,
                )
            )
    for (staff_id, day), ids in per_day.items():
        if len(ids) > policy.max_queries_per_day:
            found.append(
                Anomaly(
                    AnomalyKind.TOO_MANY_QUERIES,
                    staff_id,
                    f"{staff_id} made {len(ids)} bureau queries on {day.isoformat()}; "
                    f"the limit is {policy.max_queries_per_day}",
                    tuple(ids),
                    day,
                )
            )
    return sorted(found, key=lambda a: (a.day, a.staff_id, a.kind.value, a.query_ids))


def load_query_facts(
    session: Session, start: datetime, end: datetime
) -> tuple[list[QueryFact], dict[str, str | None]]:
    """Queries in ``[start, end)`` with each firm's branch, and the branch hierarchy."""
    rows = session.execute(
        select(
            BureauQuery.id,
            BureauQuery.staff_id,
            BureauQuery.staff_branch_id,
            BureauQuery.queried_at,
            BureauQuery.subject_uscc,
            Enterprise.branch_id,
        )
        .outerjoin(Enterprise, Enterprise.uscc == BureauQuery.subject_uscc)
        .where(BureauQuery.queried_at >= start, BureauQuery.queried_at < end)
        .order_by(BureauQuery.id)
    ).all()
    facts = [
        QueryFact(
            query_id=row[0],
            staff_id=row[1],
            staff_branch_id=row[2],
            queried_at=row[3],
            subject_uscc=row[4],
            firm_branch_id=row[5],
        )
        for row in rows
    ]
    hierarchy = session.execute(select(Branch.branch_id, Branch.parent_branch_id))
    parents: dict[str, str | None] = {row[0]: row[1] for row in hierarchy}
    return facts, parents


def count_by_kind(anomalies: Iterable[Anomaly]) -> Counter[AnomalyKind]:
    return Counter(anomaly.kind for anomaly in anomalies)
