"""Verification attempts: rate limit, lock-out after repeated failures (injected clock), and the
attempt log in memory and in the store."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from puhui.actions.consent.records import VerificationKind
from puhui.adapters.identity.attempts import (
    AttemptPolicy,
    GuardedVerifier,
    InMemoryAttemptLog,
    StoreAttemptLog,
)
from puhui.adapters.identity.provider import (
    FaceRequest,
    ThreeFactorRequest,
    VendorTimeoutError,
    VerificationLockedError,
    VerificationRateLimitedError,
    VerificationResult,
)
from puhui.data.identifiers import id_check_char
from puhui.data.store.consent_tables import AttemptOutcome
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade

PERSON = "33010219800101001" + id_check_char("33010219800101001")
REQUEST = ThreeFactorRequest("张三", PERSON, "13800001234")
T0 = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ScriptedProvider:
    """Answers from a script: an outcome, or an exception to raise."""

    name = "scripted"

    def __init__(self, clock: Clock, *script: object) -> None:
        self.clock = clock
        self.script = list(script)
        self.calls = 0

    def _next(self, kind: VerificationKind) -> VerificationResult:
        self.calls += 1
        step = self.script.pop(0) if self.script else AttemptOutcome.PASSED
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, AttemptOutcome)
        return VerificationResult(kind, self.name, step, f"r{self.calls}", self.clock())

    def verify_three_factors(self, request: ThreeFactorRequest) -> VerificationResult:
        return self._next(VerificationKind.THREE_FACTOR)

    def verify_face(self, request: FaceRequest) -> VerificationResult:
        return self._next(VerificationKind.FACE)


def test_repeated_failures_lock_the_flow_until_the_lockout_ends() -> None:
    clock = Clock()
    provider = ScriptedProvider(clock, *[AttemptOutcome.MISMATCH] * 3)
    policy = AttemptPolicy(max_attempts=10, max_failures=3, lockout=timedelta(minutes=30))
    guarded = GuardedVerifier(provider, InMemoryAttemptLog(), policy=policy, clock=clock)
    for minute in range(3):
        clock.now = T0 + timedelta(minutes=minute)
        assert not guarded.three_factors(REQUEST).passed

    clock.now = T0 + timedelta(minutes=10)
    with pytest.raises(VerificationLockedError, match="locked after 3 failed attempts"):
        guarded.three_factors(REQUEST)
    assert provider.calls == 3

    clock.now = T0 + timedelta(minutes=33)
    assert guarded.three_factors(REQUEST).passed


def test_a_pass_resets_the_failure_count_and_vendor_errors_do_not_count() -> None:
    clock = Clock()
    provider = ScriptedProvider(
        clock,
        AttemptOutcome.MISMATCH,
        AttemptOutcome.MISMATCH,
        AttemptOutcome.PASSED,
        AttemptOutcome.MISMATCH,
        VendorTimeoutError("slow"),
        AttemptOutcome.MISMATCH,
    )
    guarded = GuardedVerifier(
        provider, InMemoryAttemptLog(), policy=AttemptPolicy(max_attempts=20), clock=clock
    )
    for step in range(6):
        clock.now = T0 + timedelta(seconds=step)
        with contextlib.suppress(VendorTimeoutError):
            guarded.three_factors(REQUEST)

    clock.now = T0 + timedelta(seconds=10)
    assert guarded.three_factors(REQUEST).passed  # only 2 subject failures since the pass


def test_too_many_attempts_in_the_window_are_rate_limited_and_logged_as_refused() -> None:
    clock = Clock()
    log = InMemoryAttemptLog()
    policy = AttemptPolicy(max_attempts=2, window=timedelta(minutes=10))
    guarded = GuardedVerifier(ScriptedProvider(clock), log, policy=policy, clock=clock)
    guarded.three_factors(REQUEST)
    guarded.three_factors(REQUEST)

    with pytest.raises(VerificationRateLimitedError, match="limit is 2"):
        guarded.three_factors(REQUEST)
    assert [a.outcome for a in log.attempts][-1] is AttemptOutcome.REFUSED

    clock.now = T0 + timedelta(minutes=11)
    assert guarded.three_factors(REQUEST).passed


def test_store_attempt_log_keeps_attempts_across_verifiers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    clock = Clock()
    policy = AttemptPolicy(max_failures=2)
    first = GuardedVerifier(
        ScriptedProvider(clock, AttemptOutcome.MISMATCH, AttemptOutcome.MISMATCH),
        StoreAttemptLog(sessions),
        policy=policy,
        clock=clock,
    )
    first.three_factors(REQUEST, staff_id="CM0001", channel="online")
    first.three_factors(REQUEST, staff_id="CM0001", channel="online")

    second = GuardedVerifier(
        ScriptedProvider(clock), StoreAttemptLog(sessions), policy=policy, clock=clock
    )
    with pytest.raises(VerificationLockedError):
        second.three_factors(REQUEST)
    history = StoreAttemptLog(sessions).history(_key(), T0 - timedelta(days=1))
    assert [a.outcome for a in history] == [
        AttemptOutcome.MISMATCH,
        AttemptOutcome.MISMATCH,
        AttemptOutcome.REFUSED,
    ]
    assert history[0].staff_id == "CM0001" and history[0].result_id == "r1"
    engine.dispose()


def _key() -> str:
    from puhui.adapters.identity.provider import subject_flow_key

    return subject_flow_key(PERSON)
