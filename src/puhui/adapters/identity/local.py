"""The offline identity provider for demos, tests and air-gapped branches.

Three-factor: the identity number's check digit, then name and phone against a person
registry (in the demo, the registration lake's ``reg_person``; in a bank, its own KYC records).
It cannot tell whether the phone is really registered to that person with the carrier — only a
vendor can. Face: dlib embeddings and a multi-frame blink check (``face.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from puhui.actions.consent.records import VerificationKind
from puhui.adapters.identity.face import (
    MATCH_THRESHOLD,
    DlibFaceModel,
    LivenessPolicy,
    assess_liveness,
    face_distance,
)
from puhui.adapters.identity.provider import (
    FaceRequest,
    IdentityError,
    ThreeFactorRequest,
    VerificationResult,
)
from puhui.data.store.consent_tables import AttemptOutcome
from puhui.data.store.tables import utc_now


@dataclass(frozen=True)
class RegisteredPerson:
    """What the registry knows of a person: the name and phone on file."""

    name: str
    phone: str | None


class LocalIdentityProvider:
    """``IdentityProvider`` that works offline: a person registry and dlib face models."""

    name = "local"

    def __init__(
        self,
        registry: Mapping[str, RegisteredPerson] | None = None,
        *,
        face_model: DlibFaceModel | None = None,
        threshold: float = MATCH_THRESHOLD,
        liveness: LivenessPolicy = LivenessPolicy(),
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: f"local-{uuid.uuid4().hex[:16]}",
    ) -> None:
        self._registry = registry
        self._face_model = face_model or DlibFaceModel()
        self.threshold = threshold
        self.liveness = liveness
        self._clock = clock
        self._new_id = new_id

    def verify_three_factors(self, request: ThreeFactorRequest) -> VerificationResult:
        if self._registry is None:
            raise IdentityError("the local provider has no person registry for three-factor checks")
        person = self._registry.get(request.id_number)
        if person is None:
            outcome, reason = AttemptOutcome.MISMATCH, "identity number not in the registry"
        elif person.name != request.name.strip():
            outcome, reason = AttemptOutcome.MISMATCH, "name does not match the identity number"
        elif person.phone != request.phone:
            outcome, reason = AttemptOutcome.MISMATCH, "phone does not match the identity number"
        else:
            outcome, reason = AttemptOutcome.PASSED, "name, identity number and phone match"
        return VerificationResult(
            kind=VerificationKind.THREE_FACTOR,
            provider=self.name,
            outcome=outcome,
            result_id=self._new_id(),
            checked_at=self._clock(),
            reason=reason,
        )

    def verify_face(self, request: FaceRequest) -> VerificationResult:
        """Liveness over the frames, then every frame matched to the reference.

        Raises ``NoFaceFoundError`` (naming the image) when an image has no single face.
        """
        reference = self._face_model.observe(request.reference, "the reference image")
        frames = [
            self._face_model.observe(frame, f"live frame {number}")
            for number, frame in enumerate(request.frames, start=1)
        ]
        liveness = assess_liveness([frame.landmarks for frame in frames], self.liveness)
        distances = [face_distance(reference.embedding, frame.embedding) for frame in frames]
        worst = max(distances, default=float("inf"))
        if not liveness.live:
            outcome, reason = AttemptOutcome.NOT_LIVE, f"liveness failed: {liveness.reason}"
        elif worst >= self.threshold:
            outcome = AttemptOutcome.MISMATCH
            reason = f"face distance {worst:.3f} ≥ threshold {self.threshold}"
        else:
            outcome = AttemptOutcome.PASSED
            reason = f"live; face distance {worst:.3f} < {self.threshold}"
        return VerificationResult(
            kind=VerificationKind.FACE,
            provider=self.name,
            outcome=outcome,
            result_id=self._new_id(),
            checked_at=self._clock(),
            reason=reason,
            score=round(worst, 6) if distances else None,
            live=liveness.live,
        )


def registry_from_lake(lake_dir: Path) -> dict[str, RegisteredPerson]:
    """The registration lake's persons (``reg_person``) as a three-factor registry."""
    from puhui.data.lake import Lake

    frame = Lake(lake_dir).scan("reg_person").select("person_id", "name", "phone").collect()
    return {
        row["person_id"]: RegisteredPerson(row["name"], row["phone"])
        for row in frame.iter_rows(named=True)
    }
