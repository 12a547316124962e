"""Origination on real databases with real concurrency: two (or eight) simultaneous disbursals
disburse once, simultaneous submits with one idempotency key make one application, and a crash
between steps resumes — on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from puhui.actions.origination.ports import AcceptAnyConsent, InMemoryCoreBanking
from puhui.actions.origination.service import ApplicationRequest, OriginationService
from puhui.actions.origination.states import OriginationError
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.engine import make_session_factory
from puhui.data.store.origination_tables import (
    ApplicationState,
    ApplicationTransition,
    Loan,
    LoanApplication,
)
from unit.origination_fakes import ScriptedSentinel, StepClock, decision_service, firm, uscc

pytestmark = pytest.mark.integration

FIRM = uscc(1)
WORKERS = 8


def _service(engine: Engine, sentinel: ScriptedSentinel | None = None) -> OriginationService:
    decisions = decision_service({FIRM: firm()}, sentinel=sentinel)
    return OriginationService(
        make_session_factory(engine),
        decisions,
        AcceptAnyConsent(),
        InMemoryCoreBanking(),
        clock=StepClock(),
    )


def _request() -> ApplicationRequest:
    return ApplicationRequest(FIRM, "open_api", "xiaowei_edai", Decimal("100000"), consent_id="c-1")


def _race(action: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``action(i)`` in WORKERS threads released together."""
    barrier = threading.Barrier(WORKERS)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcome = action(index)
        except BaseException as error:
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_concurrent_disbursals_disburse_once(migrated_engine: Engine) -> None:
    service = _service(migrated_engine)
    row, _ = service.submit(_request(), "race-disburse")
    service.advance(row.application_id)
    service.accept(row.application_id)
    service.sign(row.application_id)

    results, errors = _race(lambda i: service.disburse(row.application_id, actor=f"ops{i}"))

    assert len(results) == 1, errors
    assert len(errors) == WORKERS - 1
    assert all(isinstance(error, OriginationError) for error in errors), errors
    assert len(service.core_banking.payments) == 1  # type: ignore[attr-defined]
    with service.sessions() as session:
        loans = session.execute(
            select(func.count()).select_from(Loan).where(Loan.application_id == row.application_id)
        ).scalar_one()
        disbursals = session.execute(
            select(func.count())
            .select_from(ApplicationTransition)
            .where(
                ApplicationTransition.application_id == row.application_id,
                ApplicationTransition.action == "disburse",
            )
        ).scalar_one()
        assert verify_audit_chain(session).ok  # type: ignore[attr-defined]
    assert (loans, disbursals) == (1, 1)
    assert service.get(row.application_id).state == ApplicationState.DISBURSED


def test_concurrent_submits_with_one_key_make_one_application(migrated_engine: Engine) -> None:
    service = _service(migrated_engine)
    results, errors = _race(lambda i: service.submit(_request(), "race-submit-key")[0])
    assert not errors, errors
    assert len({row.application_id for row in results}) == 1
    with service.sessions() as session:
        count = session.execute(
            select(func.count())
            .select_from(LoanApplication)
            .where(LoanApplication.idempotency_key == "race-submit-key")
        ).scalar_one()
    assert count == 1


def test_concurrent_advances_move_each_step_once(migrated_engine: Engine) -> None:
    service = _service(migrated_engine)
    row, _ = service.submit(_request(), "race-advance")

    def advance(_: int) -> str:
        try:
            return service.advance(row.application_id).state
        except OriginationError:
            return "lost a race"

    _, errors = _race(advance)
    assert not errors, errors
    assert service.get(row.application_id).state == ApplicationState.OFFERED
    actions = [t.action for t in service.transitions(row.application_id)]
    assert actions == ["submit", "authorize", "screen", "decide", "offer"]


def test_a_crash_between_steps_resumes_from_the_stored_state(migrated_engine: Engine) -> None:
    sentinel = ScriptedSentinel(fail_for={FIRM})
    service = _service(migrated_engine, sentinel)
    row, _ = service.submit(_request(), "crash-resume")
    with pytest.raises(RuntimeError):
        service.advance(row.application_id)
    # A new process: fresh service objects over the same database.
    sentinel.fail_for.clear()
    restarted = _service(migrated_engine, sentinel)
    assert restarted.get(row.application_id).state == ApplicationState.AUTHORIZED
    assert restarted.advance(row.application_id).state == ApplicationState.OFFERED
    actions = [t.action for t in restarted.transitions(row.application_id)]
    assert actions == ["submit", "authorize", "screen", "decide", "offer"]
