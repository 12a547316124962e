"""The identity-verification interface every provider implements, and the values it speaks.

Two checks: three-factor (name + identity number + mobile phone, as a vendor confirms them
against carrier and public-security records) and face (liveness over several frames, and the
live face matched to a reference photo). A provider answers ``passed`` or a failure outcome;
it raises only when it could not answer (``IdentityError`` subclasses).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from puhui.actions.consent.records import VerificationEvidence, VerificationKind
from puhui.data.identifiers import (
    is_valid_id_number,
    is_valid_phone,
    mask_id_number,
    mask_phone,
)
from puhui.data.store.audit_chain import canonical_json, format_timestamp
from puhui.data.store.consent_tables import AttemptOutcome
from puhui.errors import PuhuiError


class IdentityError(PuhuiError):
    """Identity verification could not be carried out."""


class InvalidIdentityInputError(IdentityError):
    """The name, identity number or phone is malformed (e.g. a wrong check digit)."""


class VendorError(IdentityError):
    """The external verification vendor answered with an error."""


class VendorTimeoutError(VendorError):
    """The vendor did not answer in time, after every retry."""


class CircuitOpenError(VendorError):
    """The circuit breaker is open after repeated vendor failures; calls are refused for now."""


class NoFaceFoundError(IdentityError):
    """An image holds no detectable face (or more than one)."""


class VerificationLockedError(IdentityError):
    """Too many failed attempts: this subject's verification flow is locked for a while."""


class VerificationRateLimitedError(IdentityError):
    """Too many attempts in the rate window for this subject."""


@dataclass(frozen=True)
class ThreeFactorRequest:
    """Name, identity number and mobile phone as the applicant typed them."""

    name: str
    id_number: str
    phone: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidIdentityInputError("three-factor check needs a name")
        if not is_valid_id_number(self.id_number):
            raise InvalidIdentityInputError(
                f"identity number {mask_id_number(self.id_number)} is not valid "
                "(GB 11643: 17 digits, a real birth date and the check character)"
            )
        if not is_valid_phone(self.phone):
            raise InvalidIdentityInputError(
                f"phone {mask_phone(self.phone)} is not a mainland mobile number"
            )

    def __repr__(self) -> str:
        return (
            f"ThreeFactorRequest(name=*, id_number={mask_id_number(self.id_number)!r}, "
            f"phone={mask_phone(self.phone)!r})"
        )


@dataclass(frozen=True)
class FaceRequest:
    """A reference photo (e.g. from the ID card or the public-security photo) and live frames."""

    reference: bytes = field(repr=False)
    frames: Sequence[bytes] = field(repr=False)


@dataclass(frozen=True)
class VerificationResult:
    """One provider's answer. ``score`` is a similarity or distance as the provider defines it."""

    kind: VerificationKind
    provider: str
    outcome: AttemptOutcome
    result_id: str
    checked_at: datetime
    reason: str = ""
    score: float | None = None
    live: bool | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is AttemptOutcome.PASSED

    @property
    def evidence_hash(self) -> str:
        """sha256 of the canonical result: what a consent cites instead of images or PII."""
        content = {
            "kind": self.kind.value,
            "provider": self.provider,
            "outcome": self.outcome.value,
            "result_id": self.result_id,
            "checked_at": format_timestamp(self.checked_at),
            "reason": self.reason,
            "score": None if self.score is None else round(self.score, 6),
            "live": self.live,
        }
        return hashlib.sha256(canonical_json(content).encode()).hexdigest()

    def evidence(self) -> VerificationEvidence:
        """This result as consent evidence (only a passed result is evidence)."""
        if not self.passed:
            raise IdentityError(
                f"{self.kind.value} check {self.result_id} did not pass ({self.outcome.value}); "
                "it cannot back a consent"
            )
        return VerificationEvidence(
            kind=self.kind,
            provider=self.provider,
            result_id=self.result_id,
            evidence_hash=self.evidence_hash,
            checked_at=self.checked_at,
        )


@runtime_checkable
class IdentityProvider(Protocol):
    """What puhui needs from an identity-verification provider, local or a vendor."""

    name: str

    def verify_three_factors(self, request: ThreeFactorRequest) -> VerificationResult: ...

    def verify_face(self, request: FaceRequest) -> VerificationResult: ...


def subject_flow_key(id_number: str) -> str:
    """A stable key for a subject's verification flow that does not reveal the identity number."""
    return hashlib.sha256(f"puhui.identity:{id_number}".encode()).hexdigest()
