"""Warning tasks (预警任务): one per warning raised or escalated, for the borrower's account
manager, due by level; the offline verification and disposal (核查与处置); overdue tasks
escalated to the branch manager (逾期升级); notifications once per task, channel and kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.alarm.notify import Message, Notifier
from puhui.data.store.alarm_tables import (
    AlarmDisposal,
    AlarmNotification,
    AlarmTask,
    AlarmWarning,
    Disposal,
    TaskStatus,
)
from puhui.data.store.audit import SYSTEM_ACTOR, append_audit
from puhui.data.store.tables import Branch, Staff, StaffRole, utc_now
from puhui.decisions.alarm.policy import LevelPolicy
from puhui.decisions.alarm.spec import LEVEL_ZH
from puhui.errors import PuhuiError

DISPOSAL_ZH = {
    Disposal.NO_ACTION: "无需处置",
    Disposal.WATCH: "持续关注",
    Disposal.REDUCE_LINE: "压降额度",
    Disposal.FREEZE_LINE: "冻结未用额度",
    Disposal.DEMAND_COLLATERAL: "追加担保",
    Disposal.ACCELERATE: "提前收回",
    Disposal.EXIT: "退出",
}
MIN_VERIFICATION_CHARS = 10


class TaskError(PuhuiError):
    """A task operation was refused; the message names the task and the reason."""


@dataclass
class TaskDesk:
    policy: LevelPolicy
    notifiers: Sequence[Notifier] = ()
    clock: Callable[[], datetime] = utc_now

    def due_on(self, level: str, day: date) -> date:
        return day + timedelta(days=self.policy.deadline_days[level])

    def supersede(self, session: Session, warning_ids: Sequence[int]) -> None:
        """Open tasks of these warnings are replaced (a new level) or moot (closed)."""
        session.execute(
            update(AlarmTask)
            .where(
                AlarmTask.warning_id.in_(list(warning_ids)),
                AlarmTask.status == TaskStatus.OPEN.value,
            )
            .values(status=TaskStatus.SUPERSEDED.value, closed_at=self.clock())
        )

    def close_open_tasks(self, session: Session, warning_id: int) -> None:
        self.supersede(session, [warning_id])

    def create_task(self, session: Session, warning: AlarmWarning, day: date) -> int:
        self.supersede(session, [warning.id])
        return self.create_tasks_bulk(
            session,
            [
                (
                    warning.id,
                    warning.uscc,
                    warning.level,
                    warning.account_manager_id,
                    warning.branch_id,
                )
            ],
            day,
        )

    def create_tasks_bulk(
        self,
        session: Session,
        rows: Sequence[tuple[int, str, str, str | None, str | None]],
        day: date,
    ) -> int:
        if not rows:
            return 0
        now = self.clock()
        session.execute(
            insert(AlarmTask),
            [
                {
                    "warning_id": wid,
                    "uscc": uscc,
                    "scan_date": day,
                    "level": level,
                    "assignee_id": manager,
                    "branch_id": branch,
                    "due_on": self.due_on(level, day),
                    "status": TaskStatus.OPEN.value,
                    "created_at": now,
                }
                for wid, uscc, level, manager, branch in rows
            ],
        )
        return len(rows)

    # --- escalation of overdue tasks --------------------------------------------------------

    def branch_manager(self, session: Session, branch_id: str | None) -> str | None:
        """The branch manager of the task's sub-branch, else of its parent branch."""
        seen = 0
        while branch_id is not None and seen < 3:
            manager = session.scalars(
                select(Staff.staff_id)
                .where(
                    Staff.branch_id == branch_id,
                    Staff.role == StaffRole.BRANCH_MANAGER.value,
                    Staff.active.is_(True),
                )
                .order_by(Staff.staff_id)
            ).first()
            if manager is not None:
                return manager
            branch = session.get(Branch, branch_id)
            branch_id = branch.parent_branch_id if branch else None
            seen += 1
        return None

    def escalate_overdue(self, sessions: sessionmaker[Session], day: date) -> int:
        """Open tasks past their deadline go to the branch manager (once per task)."""
        limit = day - timedelta(days=self.policy.escalate_overdue_after_days)
        with sessions.begin() as session:
            overdue = list(
                session.scalars(
                    select(AlarmTask).where(
                        AlarmTask.status == TaskStatus.OPEN.value,
                        AlarmTask.due_on < limit,
                        AlarmTask.escalated_to.is_(None),
                    )
                )
            )
            managers: dict[str | None, str | None] = {}
            for task in overdue:
                if task.branch_id not in managers:
                    managers[task.branch_id] = self.branch_manager(session, task.branch_id)
                task.escalated_to = managers[task.branch_id] or "risk_officer"
                task.escalated_on = day
            if overdue:
                append_audit(
                    session,
                    actor=SYSTEM_ACTOR,
                    actor_role="system",
                    action="alarm.task.escalate",
                    subject_type="alarm_scan",
                    subject_id=day.isoformat(),
                    detail={"tasks": [t.id for t in overdue][:200], "count": len(overdue)},
                    occurred_at=self.clock(),
                )
        self.notify_pending(sessions, day)
        return len(overdue)

    # --- notifications ----------------------------------------------------------------------

    def notify_pending(self, sessions: sessionmaker[Session], day: date) -> int:
        """Send what was not sent yet: new tasks of ``day`` and escalations of ``day``."""
        if not self.notifiers:
            return 0
        sent = 0
        with sessions.begin() as session:
            done = {
                (n.task_id, n.channel, n.kind)
                for n in session.scalars(
                    select(AlarmNotification)
                    .join(AlarmTask)
                    .where((AlarmTask.scan_date == day) | (AlarmTask.escalated_on == day))
                )
            }
            tasks = session.scalars(
                select(AlarmTask).where(
                    (AlarmTask.scan_date == day) | (AlarmTask.escalated_on == day)
                )
            ).all()
            rows = []
            for task in tasks:
                kinds = []
                if task.scan_date == day:
                    kinds.append(("assigned", task.assignee_id))
                if task.escalated_on == day:
                    kinds.append(("escalated", task.escalated_to))
                for kind, recipient in kinds:
                    for notifier in self.notifiers:
                        if (task.id, notifier.channel, kind) in done:
                            continue
                        notifier.send(_message(notifier.channel, task, kind, recipient or ""))
                        rows.append(
                            {
                                "task_id": task.id,
                                "channel": notifier.channel,
                                "kind": kind,
                                "recipient": recipient,
                                "sent_at": self.clock(),
                            }
                        )
            if rows:
                session.execute(insert(AlarmNotification), rows)
                sent = len(rows)
        return sent

    # --- disposal ---------------------------------------------------------------------------

    def dispose(
        self,
        session: Session,
        task_id: int,
        *,
        actor: str,
        actor_role: str,
        action: str,
        verification: str,
        site_visit: bool,
        verified_on: date,
        may_dispose_any: bool = False,
    ) -> AlarmDisposal:
        """Record the offline verification and the disposal; the task is then done."""
        task = session.get(AlarmTask, task_id)
        if task is None:
            raise TaskError(f"task {task_id}: no such task")
        if task.status != TaskStatus.OPEN.value:
            raise TaskError(f"task {task_id}: is {task.status}, only open tasks are disposed")
        if not may_dispose_any and actor not in {task.assignee_id, task.escalated_to}:
            raise TaskError(f"task {task_id}: assigned to {task.assignee_id}, not to {actor}")
        try:
            chosen = Disposal(action)
        except ValueError:
            allowed = ", ".join(d.value for d in Disposal)
            raise TaskError(
                f"task {task_id}: disposal {action!r} unknown; one of {allowed}"
            ) from None
        text = verification.strip()
        if len(text) < MIN_VERIFICATION_CHARS:
            raise TaskError(
                f"task {task_id}: describe the offline verification "
                f"(at least {MIN_VERIFICATION_CHARS} characters)"
            )
        now = self.clock()
        disposal = AlarmDisposal(
            task_id=task.id,
            action=chosen.value,
            verified_on=verified_on,
            site_visit=site_visit,
            verification=text[:1000],
            recorded_by=actor,
            recorded_at=now,
        )
        session.add(disposal)
        task.status = TaskStatus.DONE.value
        task.closed_at = now
        append_audit(
            session,
            actor=actor,
            actor_role=actor_role,
            action="alarm.task.dispose",
            subject_type="alarm_task",
            subject_id=str(task.id),
            detail={
                "uscc": task.uscc,
                "level": task.level,
                "disposal": chosen.value,
                "site_visit": site_visit,
                "verified_on": verified_on.isoformat(),
            },
            occurred_at=now,
        )
        session.flush()
        return disposal


def _message(channel: str, task: AlarmTask, kind: str, recipient: str) -> Message:
    level = f"{LEVEL_ZH[task.level]}预警"
    if kind == "escalated":
        subject = f"【逾期升级】{level}任务 #{task.id} 已超期 (due {task.due_on})"
    else:
        subject = f"【{level}】企业 {task.uscc} 请于 {task.due_on} 前核查处置"
    body = f"task {task.id} · warning {task.warning_id} · {task.level} · due {task.due_on}"
    return Message(channel, recipient, subject, body)


def task_summary(task: AlarmTask, today: date) -> dict[str, Any]:
    return {
        "id": task.id,
        "warning_id": task.warning_id,
        "uscc": task.uscc,
        "level": task.level,
        "scan_date": task.scan_date,
        "due_on": task.due_on,
        "overdue": task.status == TaskStatus.OPEN.value and task.due_on < today,
        "status": task.status,
        "assignee_id": task.assignee_id,
        "branch_id": task.branch_id,
        "escalated_to": task.escalated_to,
    }
