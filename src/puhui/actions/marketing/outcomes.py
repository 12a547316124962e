"""Record what happened with a prospect (营销结果登记): contacted, not interested, applied,
approved, disbursed. Outcomes are append-only; the assignment keeps the latest and closes on
a closing one. An account manager records on their own assignments, a branch manager on
those of their branches, an administrator on any; every record is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.actions.access.roles import Principal, Role
from puhui.data.store.audit import append_audit
from puhui.data.store.marketing_tables import (
    AssignmentStatus,
    MarketingAssignment,
    MarketingOutcome,
    MarketingOutcomeRecord,
)
from puhui.data.store.types import to_money
from puhui.decisions.marketing.outcomes import CLOSING, check_next, parse_outcome
from puhui.errors import PuhuiError

RECORDING_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.ADMIN})


class AssignmentNotFoundError(PuhuiError):
    """No assignment of this prospect in this run that the principal may work on."""


class OutcomeNotAllowedError(PuhuiError):
    """The principal's role may not record outcomes."""


@dataclass(frozen=True)
class RecordedOutcome:
    run_id: str
    uscc: str
    outcome: str
    status: str
    recorded_at: datetime


def visible_assignment(
    session: Session, principal: Principal, run_id: str, uscc: str
) -> MarketingAssignment:
    """The assignment if the principal may see it; unknown and out-of-scope look the same."""
    row = session.scalars(
        select(MarketingAssignment).where(
            MarketingAssignment.run_id == run_id, MarketingAssignment.uscc == uscc
        )
    ).first()
    if row is None:
        allowed = False
    elif principal.role is Role.ACCOUNT_MANAGER:
        allowed = row.staff_id == principal.staff_id
    else:
        allowed = principal.scope.allows_branch(row.outlet_id)
    if row is None or not allowed:
        raise AssignmentNotFoundError(
            f"prospect {uscc} is not on a marketing list of yours in run {run_id}"
        )
    return row


def record_outcome(
    session: Session,
    principal: Principal,
    run_id: str,
    uscc: str,
    outcome: str,
    *,
    now: datetime,
    amount: Decimal | None = None,
    note: str | None = None,
) -> RecordedOutcome:
    if principal.role not in RECORDING_ROLES:
        allowed = ", ".join(sorted(r.value for r in RECORDING_ROLES))
        raise OutcomeNotAllowedError(
            f"role {principal.role.value} may not record marketing outcomes; allowed: {allowed}"
        )
    new = parse_outcome(outcome)
    assignment = visible_assignment(session, principal, run_id, uscc)
    latest = MarketingOutcome(assignment.latest_outcome) if assignment.latest_outcome else None
    check_next(latest, new)
    session.add(
        MarketingOutcomeRecord(
            run_id=run_id,
            uscc=uscc,
            staff_id=assignment.staff_id,
            outcome=new.value,
            amount=None if amount is None else to_money(amount),
            note=(note or None) and note[:500],
            recorded_by=principal.username,
            recorded_at=now,
        )
    )
    assignment.latest_outcome = new.value
    assignment.updated_at = now
    if new in CLOSING:
        assignment.status = AssignmentStatus.CLOSED.value
    append_audit(
        session,
        actor=principal.username,
        actor_role=principal.role.value,
        action="marketing.outcome",
        subject_type="enterprise",
        subject_id=uscc,
        detail={"run_id": run_id, "outcome": new.value, "staff_id": assignment.staff_id},
        occurred_at=now,
    )
    return RecordedOutcome(run_id, uscc, new.value, assignment.status, now)
