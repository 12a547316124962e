"""The persisted state machine's one move (状态迁移): in one transaction, check the move is
allowed, update the application only if nobody moved it since it was read (``WHERE version =
:seen``), record the transition row and an audit event. Idempotency keys on steps make a repeat
answer as the first time did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from puhui.actions.origination.states import OriginationError, check_transition
from puhui.data.store.audit import append_audit
from puhui.data.store.origination_tables import (
    ApplicationState,
    ApplicationTransition,
    LoanApplication,
)

S = ApplicationState


class IdempotencyConflictError(OriginationError):
    """An idempotency key reused with a different request body."""


class UnknownApplicationError(OriginationError):
    """No application with that id."""


class ConcurrentTransitionError(OriginationError):
    """Another request moved the application first; re-read it and decide again."""


@dataclass(frozen=True)
class Step:
    """One requested move: what, by whom, with which idempotency key."""

    action: str
    actor: str = "system"
    actor_role: str = "system"
    idempotency_key: str | None = None


class StateMachine:
    """Moves applications in the store; ``clock`` stamps each transition."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def move(
        self,
        application_id: str,
        step: Step,
        target: ApplicationState,
        *,
        values: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
        before: Callable[[Session, LoanApplication], None] | None = None,
        after: Callable[[Session, LoanApplication], None] | None = None,
        lock: bool = False,
    ) -> LoanApplication:
        """One transition in one transaction: check, conditional update, transition row, audit.

        A writer that loses a race gets ``ConcurrentTransitionError``: its conditional update
        matched no row, or (SQLite) the database refused its write lock, or (any backend) the
        unique ``(application_id, seq)`` refused its transition row.
        """
        try:
            return self._move_once(
                application_id,
                step,
                target,
                values=values,
                detail=detail,
                before=before,
                after=after,
                lock=lock,
            )
        except OperationalError as error:
            if "database is locked" not in str(error):
                raise
            raise ConcurrentTransitionError(
                f"application {application_id}: another writer holds the store while "
                f"{step.action} runs; re-read and retry"
            ) from None
        except IntegrityError as error:
            if "application_transition" not in str(error) and "seq" not in str(error):
                raise
            raise ConcurrentTransitionError(
                f"application {application_id}: {step.action} lost a race for the next "
                "transition; re-read and retry"
            ) from None

    def _move_once(
        self,
        application_id: str,
        step: Step,
        target: ApplicationState,
        *,
        values: Mapping[str, Any] | None,
        detail: Mapping[str, Any] | None,
        before: Callable[[Session, LoanApplication], None] | None,
        after: Callable[[Session, LoanApplication], None] | None,
        lock: bool,
    ) -> LoanApplication:
        now = self.clock()
        with self.sessions.begin() as session:
            query = select(LoanApplication).where(LoanApplication.application_id == application_id)
            if lock:
                query = query.with_for_update()
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                raise UnknownApplicationError(f"no application {application_id}")
            if step.idempotency_key and self._replayed(session, application_id, step):
                return row
            current = S(row.state)
            check_transition(application_id, current, target)
            if before is not None:
                before(session, row)
            seen = row.version
            changes = {"state": target.value, "version": seen + 1, "updated_at": now}
            changes.update(values or {})
            result = session.execute(
                update(LoanApplication)
                .where(
                    LoanApplication.application_id == application_id,
                    LoanApplication.version == seen,
                    LoanApplication.state == current.value,
                )
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise ConcurrentTransitionError(
                    f"application {application_id} moved while {step.action} was running "
                    f"(expected version {seen} in {current.value}); re-read and retry"
                )
            for key, value in changes.items():
                # Already written by the conditional update: no second UPDATE at flush.
                set_committed_value(row, key, value)
            session.add(
                ApplicationTransition(
                    application_id=application_id,
                    seq=seen + 1,
                    from_state=current.value,
                    to_state=target.value,
                    action=step.action,
                    occurred_at=now,
                    actor=step.actor,
                    idempotency_key=step.idempotency_key,
                    detail=dict(detail or {}),
                )
            )
            session.flush()
            if after is not None:
                after(session, row)
            self.audit(
                session, row, step.action, step.actor, step.actor_role, now, dict(detail or {})
            )
        return row

    def _replayed(self, session: Session, application_id: str, step: Step) -> bool:
        done = session.execute(
            select(ApplicationTransition.action).where(
                ApplicationTransition.application_id == application_id,
                ApplicationTransition.idempotency_key == step.idempotency_key,
            )
        ).scalar_one_or_none()
        if done is None:
            return False
        if done != step.action:
            raise IdempotencyConflictError(
                f"idempotency key {step.idempotency_key!r} was used for {done} on application "
                f"{application_id}, not {step.action}"
            )
        return True

    def audit(
        self,
        session: Session,
        row: LoanApplication,
        action: str,
        actor: str,
        actor_role: str,
        now: datetime,
        detail: dict[str, Any],
    ) -> None:
        append_audit(
            session,
            actor=actor[:32],
            actor_role=actor_role[:32],
            action=f"origination.{action}",
            subject_type="loan_application",
            subject_id=row.application_id,
            purpose="贷款进件 loan origination",
            detail={"state": row.state, "version": row.version, "uscc": row.uscc, **detail},
            occurred_at=now,
        )
