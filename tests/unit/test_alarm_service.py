"""The daily scan service on a small province: idempotent per date, resumes after a crash from
its checkpoint, records a missing feed as missing, escalates overdue tasks, records disposal."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.alarm.feeds import LakeFeeds, WithMissing
from puhui.actions.alarm.notify import LogNotifier
from puhui.actions.alarm.runner import DuckDBScanEngine
from puhui.actions.alarm.scan import AlarmScanner, ScanOrderError
from puhui.actions.alarm.tasks import TaskDesk, TaskError
from puhui.actions.alarm.wiring import feature_lags
from puhui.data.lake import Lake
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.alarm_tables import (
    AlarmFeed,
    AlarmLevelChange,
    AlarmNotification,
    AlarmTask,
    AlarmWarning,
    TaskStatus,
)
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.tables import Staff, StaffRole
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library
from support.workbench import shared_province

DAY = date(2026, 6, 10)


class Crash(RuntimeError):
    pass


@dataclass
class World:
    sessions: sessionmaker[Session]
    scanner: AlarmScanner
    notifier: LogNotifier


@pytest.fixture(scope="module")
def engine():
    runner = DuckDBScanEngine()
    yield runner
    runner.close()


def make_world(tmp_path: Path, **options) -> World:
    province = shared_province()
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = tmp_path / "store.db"
    shutil.copy(province.data_dir / "puhui.db", store)
    sessions = make_session_factory(make_engine(f"sqlite:///{store}"))
    lake = Lake(province.data_dir / "lake")
    library, lags = load_signal_library(), feature_lags()
    notifier = LogNotifier("wecom")
    scanner = AlarmScanner(
        lake=lake,
        sessions=sessions,
        library=library,
        policy=load_policy(),
        lags=lags,
        work_dir=tmp_path / "alarm",
        feeds=options.pop("feeds", None) or LakeFeeds(lake, library, lags),
        notifiers=[notifier],
        **options,
    )
    return World(sessions, scanner, notifier)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(AlarmWarning)),
            session.scalar(select(func.count()).select_from(AlarmTask)),
            session.scalar(select(func.count()).select_from(AlarmLevelChange)),
        )


def state(sessions: sessionmaker[Session]) -> list[tuple]:
    with sessions() as session:
        return sorted(
            session.execute(
                select(
                    AlarmWarning.uscc,
                    AlarmWarning.level,
                    AlarmWarning.status,
                    AlarmWarning.score,
                    AlarmWarning.conditions,
                )
            ).all()
        )


def test_a_scan_warns_with_evidence_and_gives_each_warning_a_task(tmp_path, engine):
    world = make_world(tmp_path)
    summary = world.scanner.scan(DAY, engine)
    assert summary.borrowers > 20 and summary.warnings_opened > 0
    assert summary.tasks_created == summary.warnings_opened
    with world.sessions() as session:
        warning = session.scalars(select(AlarmWarning).order_by(AlarmWarning.score.desc())).first()
        assert warning.evidence and {"signal", "value", "date", "source"} <= set(
            warning.evidence[0]
        )
        assert "no EW-PD models" in summary.missing_pd  # no PD model: missing, not zero
        assert warning.pd_6m is None
        task = session.scalars(select(AlarmTask).where(AlarmTask.warning_id == warning.id)).one()
        deadline = load_policy().deadline_days[warning.level]
        assert task.due_on == DAY + timedelta(days=deadline)
        assert task.assignee_id == warning.account_manager_id is not None
    sent = {(m.recipient, m.subject) for m in world.notifier.sent}
    assert len(sent) == summary.tasks_created


def test_rerunning_a_date_adds_no_warnings_tasks_or_notifications(tmp_path, engine):
    world = make_world(tmp_path)
    world.scanner.scan(DAY, engine)
    before, sent = counts(world.sessions), len(world.notifier.sent)
    again = world.scanner.scan(DAY, engine)
    assert again.skipped and counts(world.sessions) == before
    assert len(world.notifier.sent) == sent
    with pytest.raises(ScanOrderError, match="scans move forward"):
        world.scanner.scan(DAY - timedelta(days=1), engine)


def test_a_crashed_scan_resumes_from_its_checkpoint_to_the_same_result(tmp_path, engine):
    clean = make_world(tmp_path / "clean", chunk=10)
    clean.scanner.scan(DAY, engine)

    def crash(index: int) -> None:
        if index == 2:
            raise Crash("power cut")

    broken = make_world(tmp_path / "broken", chunk=10, after_chunk=crash)
    with pytest.raises(Crash):
        broken.scanner.scan(DAY, engine)
    partial = counts(broken.sessions)
    assert 0 < partial[0] < counts(clean.sessions)[0]
    broken.scanner.after_chunk = None
    resumed = broken.scanner.scan(DAY, engine)
    assert resumed.resumed_from == "assessed"
    assert state(broken.sessions) == state(clean.sessions)
    assert counts(broken.sessions) == counts(clean.sessions)


def test_a_missing_feed_is_recorded_as_missing_and_its_signals_are_kept(tmp_path, engine):
    day2 = DAY + timedelta(days=1)
    world = make_world(tmp_path)
    world.scanner.scan(DAY, engine)
    world.scanner.feeds = WithMissing(world.scanner.feeds, {day2: ["bank_account_monthly"]})
    summary = world.scanner.scan(day2, engine)
    assert "bank_account_monthly" in summary.missing_feeds
    with world.sessions() as session:
        feed = session.get(AlarmFeed, (day2, "bank_account_monthly"))
        assert feed is not None and feed.status == "missing"
        assert session.get(AlarmFeed, (DAY, "bank_account_monthly")).status == "present"
        flows = [
            w
            for w in session.scalars(select(AlarmWarning))
            if any(e["source"] == "bank_account_monthly" for e in w.evidence)
        ]
        assert flows, "the province should have account-flow signals on day one"
        for warning in flows:  # kept, not read as "no risk"
            assert "bank_account_monthly" in warning.missing_sources
            assert warning.status == "open"


def test_overdue_tasks_escalate_to_the_branch_manager_once(tmp_path, engine):
    world = make_world(tmp_path)
    world.scanner.scan(DAY, engine)
    desk = TaskDesk(load_policy(), [world.notifier])
    later = DAY + timedelta(days=20)
    escalated = desk.escalate_overdue(world.sessions, later)
    assert escalated > 0
    assert desk.escalate_overdue(world.sessions, later) == 0
    with world.sessions() as session:
        tasks = session.scalars(select(AlarmTask).where(AlarmTask.escalated_on == later)).all()
        managers = {t.escalated_to for t in tasks}
        roles = {session.get(Staff, m).role for m in managers if session.get(Staff, m)}
        assert roles <= {StaffRole.BRANCH_MANAGER.value}
        assert (
            session.scalar(
                select(func.count())
                .select_from(AlarmNotification)
                .where(AlarmNotification.kind == "escalated")
            )
            == escalated
        )
        assert verify_audit_chain(session).ok


def test_a_disposal_needs_the_assignee_and_a_verification_and_closes_the_task(tmp_path, engine):
    world = make_world(tmp_path)
    world.scanner.scan(DAY, engine)
    desk = TaskDesk(load_policy())
    with world.sessions() as session:
        task = session.scalars(select(AlarmTask).order_by(AlarmTask.id)).first()
        task_id, assignee = task.id, task.assignee_id
    with world.sessions.begin() as session:
        with pytest.raises(TaskError, match="assigned to"):
            desk.dispose(
                session,
                task_id,
                actor="S999999",
                actor_role="account_manager",
                action="watch",
                verification="visited the plant, all fine",
                site_visit=True,
                verified_on=DAY,
            )
        with pytest.raises(TaskError, match="offline verification"):
            desk.dispose(
                session,
                task_id,
                actor=assignee,
                actor_role="account_manager",
                action="watch",
                verification="ok",
                site_visit=False,
                verified_on=DAY,
            )
    with world.sessions.begin() as session:
        desk.dispose(
            session,
            task_id,
            actor=assignee,
            actor_role="account_manager",
            action="freeze_line",
            verification="电费欠缴属实，已冻结未用额度",
            site_visit=True,
            verified_on=DAY,
        )
    with world.sessions() as session:
        assert session.get(AlarmTask, task_id).status == TaskStatus.DONE.value
    with world.sessions.begin() as session, pytest.raises(TaskError, match="only open"):
        desk.dispose(
            session,
            task_id,
            actor=assignee,
            actor_role="account_manager",
            action="exit",
            verification="second attempt at disposal",
            site_visit=False,
            verified_on=DAY,
        )
