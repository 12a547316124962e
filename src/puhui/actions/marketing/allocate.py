"""Allocate a run's listed prospects to account managers (分配) and keep the result.

Managers are the store's active account managers; a manager's outlet is their branch and the
city branch is its parent. Each manager's remaining capacity is the configured capacity less
what their current customers and unfinished marketing assignments already take. The exact
optimum comes from ``puhui.decisions.marketing.allocation``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puhui.data.store.audit import append_audit
from puhui.data.store.marketing_tables import (
    AssignmentStatus,
    MarketingAssignment,
    MarketingProspect,
    MarketingRun,
    RunStatus,
)
from puhui.data.store.tables import Branch, Enterprise, Staff, StaffRole
from puhui.data.store.types import to_money
from puhui.decisions.marketing.allocation import (
    AllocationResult,
    ManagerSlot,
    ProspectToPlace,
    allocate,
    remaining_capacity,
)
from puhui.decisions.marketing.spec import AllocationParameters
from puhui.errors import PuhuiError


class AlreadyAllocatedError(PuhuiError):
    """The run was allocated before; its assignments stand (build a new run to re-allocate)."""


def manager_slots(session: Session, parameters: AllocationParameters) -> list[ManagerSlot]:
    """Every active account manager with the capacity they have left."""
    parents = dict(session.execute(select(Branch.branch_id, Branch.parent_branch_id)).all())
    customers = Counter(
        dict(
            session.execute(
                select(Enterprise.account_manager_id, func.count())
                .where(Enterprise.is_customer.is_(True))
                .group_by(Enterprise.account_manager_id)
            ).all()
        )
    )
    open_work = Counter(
        dict(
            session.execute(
                select(MarketingAssignment.staff_id, func.count())
                .where(MarketingAssignment.status == AssignmentStatus.OPEN.value)
                .group_by(MarketingAssignment.staff_id)
            ).all()
        )
    )
    managers = session.scalars(
        select(Staff)
        .where(Staff.role == StaffRole.ACCOUNT_MANAGER.value, Staff.active.is_(True))
        .order_by(Staff.staff_id)
    )
    return [
        ManagerSlot(
            staff_id=m.staff_id,
            outlet_id=m.branch_id,
            city_branch_id=parents.get(m.branch_id) or m.branch_id,
            capacity=remaining_capacity(
                parameters.manager_capacity,
                customers.get(m.staff_id, 0),
                open_work.get(m.staff_id, 0),
                parameters.workload_per_customer,
                parameters.open_assignment_weight,
            ),
        )
        for m in managers
    ]


def allocate_run(
    session: Session,
    run: MarketingRun,
    parameters: AllocationParameters,
    *,
    actor: str,
    actor_role: str,
    now: datetime,
) -> AllocationResult:
    """Solve and store the assignments of ``run``; audit the allocation."""
    existing = session.scalar(select(func.count()).where(MarketingAssignment.run_id == run.run_id))
    if existing:
        raise AlreadyAllocatedError(
            f"run {run.run_id} already has {existing} assignments; build a new run to re-allocate"
        )
    parents = dict(session.execute(select(Branch.branch_id, Branch.parent_branch_id)).all())
    prospects = [
        ProspectToPlace(
            uscc=uscc,
            expected_value=float(value),
            outlet_id=outlet,
            city_branch_id=parents.get(outlet) if outlet else None,
        )
        for uscc, value, outlet in session.execute(
            select(
                MarketingProspect.uscc,
                MarketingProspect.expected_value,
                MarketingProspect.outlet_id,
            )
            .where(MarketingProspect.run_id == run.run_id)
            .order_by(MarketingProspect.rank)
        )
    ]
    result = allocate(
        prospects,
        manager_slots(session, parameters),
        city_fallback_factor=parameters.city_fallback_factor,
    )
    rows = [
        {
            "run_id": run.run_id,
            "uscc": p.uscc,
            "staff_id": p.staff_id,
            "outlet_id": p.outlet_id,
            "expected_value": to_money(Decimal(repr(p.value))),
            "via_city": p.via_city,
            "status": AssignmentStatus.OPEN.value,
            "latest_outcome": None,
            "assigned_at": now,
            "updated_at": now,
        }
        for p in result.placements
    ]
    if rows:
        session.execute(MarketingAssignment.__table__.insert(), rows)
    run.status = RunStatus.ALLOCATED.value
    run.allocated_at = now
    append_audit(
        session,
        actor=actor,
        actor_role=actor_role,
        action="marketing.allocate",
        subject_type="marketing_run",
        subject_id=run.run_id,
        detail={
            "placed": len(result.placements),
            "unplaced": len(result.unplaced),
            "total_value": result.total_value,
            "upper_bound": result.upper_bound,
        },
        occurred_at=now,
    )
    return result
