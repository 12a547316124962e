"""Rate limiting, lock-out and logging of verification attempts, around any provider.

Every attempt is logged with its outcome (``identity_verification_attempt`` in the store, or in
memory for tests). Before calling the provider, the subject's recent history decides:

- more than ``max_attempts`` in ``window`` → ``VerificationRateLimitedError``;
- ``max_failures`` subject failures in a row (mismatch, no face, not live) → the flow is locked
  for ``lockout`` after the last one (``VerificationLockedError``). A pass resets the count;
  vendor errors neither count nor reset (the subject did nothing wrong).

The decision (``check_allowed``) is a pure function of the history and an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puhui.adapters.identity.provider import (
    FaceRequest,
    IdentityProvider,
    NoFaceFoundError,
    ThreeFactorRequest,
    VendorError,
    VerificationLockedError,
    VerificationRateLimitedError,
    VerificationResult,
    subject_flow_key,
)
from puhui.data.store.consent_tables import AttemptKind, AttemptOutcome, VerificationAttempt
from puhui.data.store.tables import utc_now

SUBJECT_FAILURES = frozenset(
    {AttemptOutcome.MISMATCH, AttemptOutcome.NO_FACE, AttemptOutcome.NOT_LIVE}
)


@dataclass(frozen=True)
class AttemptPolicy:
    """How many attempts, and how many failures in a row, before the flow stops."""

    max_attempts: int = 5
    window: timedelta = timedelta(minutes=10)
    max_failures: int = 3
    lockout: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class Attempt:
    """One logged attempt (no personal data: the subject is the hashed ``flow_key``)."""

    flow_key: str
    attempted_at: datetime
    kind: AttemptKind
    provider: str
    outcome: AttemptOutcome
    result_id: str | None = None
    evidence_hash: str | None = None
    reason: str | None = None
    staff_id: str | None = None
    channel: str | None = None


def check_allowed(history: Sequence[Attempt], now: datetime, policy: AttemptPolicy) -> None:
    """Raise when the subject is locked out or over the rate limit at ``now``."""
    ordered = sorted(history, key=lambda attempt: attempt.attempted_at)
    failures: list[Attempt] = []
    for attempt in reversed(ordered):
        if attempt.outcome is AttemptOutcome.PASSED:
            break
        if attempt.outcome in SUBJECT_FAILURES:
            failures.append(attempt)
    if len(failures) >= policy.max_failures:
        until = failures[0].attempted_at + policy.lockout
        if now < until:
            raise VerificationLockedError(
                f"verification locked after {len(failures)} failed attempts in a row; "
                f"try again after {until.isoformat()}"
            )
    counted = [
        attempt
        for attempt in ordered
        if attempt.outcome is not AttemptOutcome.REFUSED
        and now - policy.window < attempt.attempted_at <= now
    ]
    if len(counted) >= policy.max_attempts:
        retry_at = counted[0].attempted_at + policy.window
        raise VerificationRateLimitedError(
            f"{len(counted)} verification attempts within {policy.window}; "
            f"the limit is {policy.max_attempts}; try again after {retry_at.isoformat()}"
        )


class AttemptLog(Protocol):
    """Where attempts are kept."""

    def history(self, flow_key: str, since: datetime) -> list[Attempt]: ...

    def record(self, attempt: Attempt) -> None: ...


class InMemoryAttemptLog:
    """Attempts in a list: for tests and single-process demos."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def history(self, flow_key: str, since: datetime) -> list[Attempt]:
        return [a for a in self.attempts if a.flow_key == flow_key and a.attempted_at >= since]

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)


class StoreAttemptLog:
    """Attempts in the store's ``identity_verification_attempt`` table (one commit each)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def history(self, flow_key: str, since: datetime) -> list[Attempt]:
        with self._sessions() as session:
            rows = session.execute(
                select(VerificationAttempt)
                .where(
                    VerificationAttempt.flow_key == flow_key,
                    VerificationAttempt.attempted_at >= since,
                )
                .order_by(VerificationAttempt.attempted_at, VerificationAttempt.id)
            ).scalars()
            return [
                Attempt(
                    flow_key=row.flow_key,
                    attempted_at=row.attempted_at,
                    kind=AttemptKind(row.kind),
                    provider=row.provider,
                    outcome=AttemptOutcome(row.outcome),
                    result_id=row.result_id,
                    evidence_hash=row.evidence_hash,
                    reason=row.reason,
                    staff_id=row.staff_id,
                    channel=row.channel,
                )
                for row in rows
            ]

    def record(self, attempt: Attempt) -> None:
        with self._sessions.begin() as session:
            session.add(
                VerificationAttempt(
                    attempted_at=attempt.attempted_at,
                    flow_key=attempt.flow_key,
                    kind=attempt.kind.value,
                    provider=attempt.provider,
                    outcome=attempt.outcome.value,
                    result_id=attempt.result_id,
                    evidence_hash=attempt.evidence_hash,
                    reason=(attempt.reason or "")[:200] or None,
                    staff_id=attempt.staff_id,
                    channel=attempt.channel,
                )
            )


class GuardedVerifier:
    """A provider behind the attempt policy: checks, calls, logs every outcome."""

    def __init__(
        self,
        provider: IdentityProvider,
        log: AttemptLog,
        *,
        policy: AttemptPolicy = AttemptPolicy(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.provider = provider
        self.log = log
        self.policy = policy
        self._clock = clock

    def three_factors(
        self,
        request: ThreeFactorRequest,
        *,
        staff_id: str | None = None,
        channel: str | None = None,
    ) -> VerificationResult:
        return self._run(
            AttemptKind.THREE_FACTOR,
            subject_flow_key(request.id_number),
            lambda: self.provider.verify_three_factors(request),
            staff_id,
            channel,
        )

    def face(
        self,
        request: FaceRequest,
        *,
        id_number: str,
        staff_id: str | None = None,
        channel: str | None = None,
    ) -> VerificationResult:
        return self._run(
            AttemptKind.FACE,
            subject_flow_key(id_number),
            lambda: self.provider.verify_face(request),
            staff_id,
            channel,
        )

    def _run(
        self,
        kind: AttemptKind,
        flow_key: str,
        call: Callable[[], VerificationResult],
        staff_id: str | None,
        channel: str | None,
    ) -> VerificationResult:
        now = self._clock()
        horizon = now - max(self.policy.window, self.policy.lockout) * 2
        base = {
            "flow_key": flow_key,
            "kind": kind,
            "provider": self.provider.name,
            "staff_id": staff_id,
            "channel": channel,
        }
        try:
            check_allowed(self.log.history(flow_key, horizon), now, self.policy)
        except (VerificationLockedError, VerificationRateLimitedError) as error:
            self.log.record(
                Attempt(attempted_at=now, outcome=AttemptOutcome.REFUSED, reason=str(error), **base)
            )
            raise
        try:
            result = call()
        except NoFaceFoundError as error:
            self.log.record(
                Attempt(attempted_at=now, outcome=AttemptOutcome.NO_FACE, reason=str(error), **base)
            )
            raise
        except VendorError as error:
            self.log.record(
                Attempt(attempted_at=now, outcome=AttemptOutcome.ERROR, reason=str(error), **base)
            )
            raise
        self.log.record(
            Attempt(
                attempted_at=now,
                outcome=result.outcome,
                result_id=result.result_id,
                evidence_hash=result.evidence_hash,
                reason=result.reason,
                **base,
            )
        )
        return result
