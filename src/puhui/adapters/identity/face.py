"""Offline face verification with dlib: detection, 68 landmarks, 128-d embeddings, a blink check.

Models come from the ``face-recognition-models`` package (installed from the registry, nothing
downloaded at run time): HOG face detector (built into dlib), ``shape_predictor_68_face_
landmarks.dat`` and ``dlib_face_recognition_resnet_model_v1.dat``. Two faces match when the
Euclidean distance of their embeddings is below 0.6, dlib's published operating point (99.38 %
on LFW pairs; far less on other populations, poses or light; see docs/CONSENT.md).

Liveness here is a *multi-frame* heuristic: every frame must hold one face of the same person,
the eyes must blink (eye aspect ratio open → closed → open, Soukupová and Čech 2016) and the
landmarks must move. It stops a single replayed photo; it does not stop a video, a mask or a
doctored sequence (the test fixtures themselves are a painted still). Use a certified vendor
for production liveness.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from puhui.adapters.identity.provider import IdentityError, NoFaceFoundError

MATCH_THRESHOLD = 0.6
_LANDMARKS = "shape_predictor_68_face_landmarks.dat"
_RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"
_RIGHT_EYE = slice(36, 42)
_LEFT_EYE = slice(42, 48)
_MAX_SIDE = 1024


class FaceModelMissingError(IdentityError):
    """The dlib model files (package face-recognition-models) are not installed."""


class ImageDecodeError(IdentityError):
    """An image could not be read (not a JPEG/PNG, truncated, empty)."""


def face_model_dir() -> Path:
    """Folder of the dlib models shipped by ``face-recognition-models``.

    Found without importing the package: its ``__init__`` imports ``pkg_resources``, which
    recent setuptools no longer has.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelMissingError(
            "package face-recognition-models is not installed; it ships the dlib face models "
            "the local verifier needs (pip install face-recognition-models)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (_LANDMARKS, _RECOGNITION):
        if not (folder / name).is_file():
            raise FaceModelMissingError(f"dlib model file {folder / name} is missing")
    return folder


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one image: where, its 68 landmarks (x, y) and its 128-d embedding."""

    label: str
    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    embedding: np.ndarray


def decode_image(data: bytes, label: str) -> np.ndarray:
    """RGB pixels of a JPEG/PNG, shrunk so the longer side is at most 1024 px."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageDecodeError(f"{label} is not a readable image: {error}") from error
    image = image.convert("RGB")
    if max(image.size) > _MAX_SIDE:
        image.thumbnail((_MAX_SIDE, _MAX_SIDE))
    return np.asarray(image)


class DlibFaceModel:
    """dlib's detector, landmark predictor and embedding network, loaded on first use."""

    def __init__(self, model_dir: Path | None = None, *, upsample: int = 1) -> None:
        self._model_dir = model_dir
        self._upsample = upsample

    @cached_property
    def _models(self) -> tuple[Any, Any, Any]:
        import dlib

        folder = self._model_dir or face_model_dir()
        return (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(folder / _LANDMARKS)),
            dlib.face_recognition_model_v1(str(folder / _RECOGNITION)),
        )

    def observe(self, image: bytes, label: str) -> FaceObservation:
        """The single face in ``image``; ``NoFaceFoundError`` naming ``label`` otherwise."""
        detector, predictor, recognizer = self._models
        pixels = decode_image(image, label)
        faces = detector(pixels, self._upsample)
        if len(faces) == 0:
            raise NoFaceFoundError(f"no face found in {label}")
        if len(faces) > 1:
            raise NoFaceFoundError(
                f"{len(faces)} faces found in {label}; verification needs exactly one"
            )
        face = faces[0]
        shape = predictor(pixels, face)
        landmarks = np.array([[point.x, point.y] for point in shape.parts()], dtype=float)
        embedding = np.array(recognizer.compute_face_descriptor(pixels, shape), dtype=float)
        box = (face.left(), face.top(), face.right(), face.bottom())
        return FaceObservation(label, box, landmarks, embedding)


# --- pure measurements ------------------------------------------------------------------------


def face_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Euclidean distance of two embeddings; below ~0.6 means the same person to dlib."""
    return float(np.linalg.norm(np.asarray(first) - np.asarray(second)))


def eye_aspect_ratio(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes: eyelid gap over eye width (~0.3 open, < 0.2 shut)."""

    def one(eye: np.ndarray) -> float:
        vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        return float(vertical / (2.0 * np.linalg.norm(eye[0] - eye[3])))

    return (one(landmarks[_RIGHT_EYE]) + one(landmarks[_LEFT_EYE])) / 2.0


def landmark_motion(sequence: Sequence[np.ndarray]) -> float:
    """Largest mean landmark displacement from the first frame, in inter-ocular distances."""
    first = sequence[0]
    scale = float(np.linalg.norm(first[_RIGHT_EYE].mean(0) - first[_LEFT_EYE].mean(0))) or 1.0
    moves = [float(np.linalg.norm(frame - first, axis=1).mean()) for frame in sequence[1:]]
    return max(moves, default=0.0) / scale


@dataclass(frozen=True)
class LivenessPolicy:
    """What the multi-frame check demands (defaults tuned on dlib's 68-landmark model)."""

    min_frames: int = 3
    open_eye_ratio: float = 0.24
    blink_drop: float = 0.75
    min_motion: float = 0.02


@dataclass(frozen=True)
class LivenessAssessment:
    live: bool
    reason: str
    eye_ratios: tuple[float, ...]
    motion: float


def assess_liveness(
    sequence: Sequence[np.ndarray], policy: LivenessPolicy = LivenessPolicy()
) -> LivenessAssessment:
    """Blink (open → closed → open) and landmark motion over the frames' landmarks."""
    ratios = tuple(round(eye_aspect_ratio(landmarks), 4) for landmarks in sequence)
    motion = landmark_motion(sequence) if sequence else 0.0
    if len(sequence) < policy.min_frames:
        return LivenessAssessment(
            False, f"{len(sequence)} frame(s); liveness needs {policy.min_frames}", ratios, motion
        )
    blinked = any(
        ratios[i] >= policy.open_eye_ratio
        and ratios[j] <= ratios[i] * policy.blink_drop
        and ratios[k] >= policy.open_eye_ratio
        for i in range(len(ratios))
        for j in range(i + 1, len(ratios))
        for k in range(j + 1, len(ratios))
    )
    if not blinked:
        return LivenessAssessment(False, "no blink seen (eyes open → shut → open)", ratios, motion)
    if motion < policy.min_motion:
        return LivenessAssessment(False, f"landmarks barely moved ({motion:.3f})", ratios, motion)
    return LivenessAssessment(True, "blink and motion seen", ratios, motion)
