"""The offline verifier: real dlib embeddings on small committed photos, the blink-based
liveness check, and clear errors for images without a face.

Fixtures (tests/fixtures/faces, public-domain portraits; see make_faces.py): a reference photo
and three live frames of one person (eyes open, painted shut, open and shifted), and a photo of
another person.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from puhui.adapters.identity.attempts import GuardedVerifier, InMemoryAttemptLog
from puhui.adapters.identity.face import (
    DlibFaceModel,
    ImageDecodeError,
    LivenessPolicy,
    assess_liveness,
    eye_aspect_ratio,
    face_distance,
)
from puhui.adapters.identity.local import LocalIdentityProvider, RegisteredPerson
from puhui.adapters.identity.provider import FaceRequest, NoFaceFoundError, ThreeFactorRequest
from puhui.data.identifiers import id_check_char
from puhui.data.store.consent_tables import AttemptOutcome

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
PERSON = "33010219800101001" + id_check_char("33010219800101001")


def _read(name: str) -> bytes:
    return (FACES / name).read_bytes()


@pytest.fixture(scope="module")
def model() -> DlibFaceModel:
    return DlibFaceModel()


@pytest.fixture(scope="module")
def provider(model: DlibFaceModel) -> LocalIdentityProvider:
    return LocalIdentityProvider(
        {PERSON: RegisteredPerson("张三", "13800001234")},
        face_model=model,
        clock=lambda: datetime(2026, 6, 2, 2, 0, tzinfo=UTC),
    )


LIVE_FRAMES = ["frame_open.jpg", "frame_closed.jpg", "frame_open_shifted.jpg"]


def test_embeddings_of_the_same_person_are_close_and_of_another_far(model) -> None:
    reference = model.observe(_read("reference.jpg"), "reference")
    same = model.observe(_read("frame_open.jpg"), "frame")
    other = model.observe(_read("other_person.jpg"), "other")

    assert reference.embedding.shape == (128,)
    assert face_distance(reference.embedding, same.embedding) < 0.3
    assert face_distance(reference.embedding, other.embedding) > 0.6


def test_live_sequence_of_the_reference_person_passes(provider) -> None:
    result = provider.verify_face(
        FaceRequest(_read("reference.jpg"), [_read(n) for n in LIVE_FRAMES])
    )

    assert result.outcome is AttemptOutcome.PASSED, result.reason
    assert result.live is True and result.score is not None and result.score < 0.6


def test_live_sequence_against_another_persons_reference_is_a_mismatch(provider) -> None:
    result = provider.verify_face(
        FaceRequest(_read("other_person.jpg"), [_read(n) for n in LIVE_FRAMES])
    )

    assert result.outcome is AttemptOutcome.MISMATCH
    assert "threshold" in result.reason


def test_a_replayed_still_photo_is_not_live(provider) -> None:
    still = _read("frame_open.jpg")

    result = provider.verify_face(FaceRequest(_read("reference.jpg"), [still, still, still]))

    assert result.outcome is AttemptOutcome.NOT_LIVE
    assert "no blink" in result.reason


def test_image_without_a_face_is_a_clear_error_naming_the_frame(provider) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), (128, 140, 150)).save(blank, format="PNG")

    with pytest.raises(NoFaceFoundError, match="no face found in live frame 2"):
        provider.verify_face(
            FaceRequest(_read("reference.jpg"), [_read("frame_open.jpg"), blank.getvalue()])
        )


def test_unreadable_image_is_refused_by_name(provider) -> None:
    with pytest.raises(ImageDecodeError, match="the reference image is not a readable image"):
        provider.verify_face(FaceRequest(b"not an image", []))


def test_no_face_attempts_are_logged_and_count_towards_lockout(provider) -> None:
    log = InMemoryAttemptLog()
    guarded = GuardedVerifier(provider, log)
    blank = io.BytesIO()
    Image.new("RGB", (64, 64)).save(blank, format="PNG")

    with pytest.raises(NoFaceFoundError):
        guarded.face(FaceRequest(blank.getvalue(), []), id_number=PERSON)

    assert [a.outcome for a in log.attempts] == [AttemptOutcome.NO_FACE]
    assert PERSON not in log.attempts[0].flow_key


def test_eye_aspect_ratio_and_blink_rule_on_synthetic_landmarks() -> None:
    def face(eye_gap: float, shift: float = 0.0) -> np.ndarray:
        points = np.zeros((68, 2))
        for start, x0 in ((36, 0.0), (42, 60.0)):
            eye = [(0, 0), (10, -eye_gap), (20, -eye_gap), (30, 0), (20, eye_gap), (10, eye_gap)]
            points[start : start + 6] = np.array(eye) + np.array([x0, 0.0])
        return points + np.array([shift, 0.0])

    assert eye_aspect_ratio(face(5)) == pytest.approx(1 / 3)
    open_, shut = face(5), face(1, shift=3)
    assert assess_liveness([open_, shut, face(5, shift=3)]).live
    assert not assess_liveness([open_, open_, open_]).live
    assert "needs 3" in assess_liveness([open_, shut], LivenessPolicy()).reason


def test_three_factor_checks_the_registry(provider) -> None:
    assert provider.verify_three_factors(ThreeFactorRequest("张三", PERSON, "13800001234")).passed
    wrong_phone = provider.verify_three_factors(ThreeFactorRequest("张三", PERSON, "13900001234"))
    assert wrong_phone.outcome is AttemptOutcome.MISMATCH and "phone" in wrong_phone.reason
