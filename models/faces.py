"""The face step, once for every caller: detected faces through the quality gate, aligned, then embedded.

    faces = gate_faces(image, detections, indices, settings)   # geometry -> align -> pixels, per face
    templates = embed_faces(pack, [f for f in faces if f.usable])

The gate's cheapest check runs first: size and pose from the landmarks (models/quality.py), before any pixel
work. Faces that pass are aligned in one batch, then their crops' sharpness and brightness are checked. The gate
camera's pipeline, the exam station, the kiosk, enrolment from a photo (models/photos.py) and the accuracy
evaluation all call this, so a face is accepted or refused for the same reasons everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models import quality as face_quality
from models.aligner import align_faces
from models.detection import Detections
from models.pack import LoadedPack
from models.quality import Quality, QualitySettings


@dataclass
class Face:
    """One detected face after the quality gate."""

    index: int  # in the detections it came from
    box: np.ndarray
    landmarks: np.ndarray
    score: float  # the detector's
    quality: Quality | None  # None where the gate was not asked for (evaluation)
    crop: np.ndarray | None  # the aligned 112x112 crop, when the face passed the gate

    @property
    def usable(self) -> bool:
        return self.crop is not None

    @property
    def reason(self) -> str | None:
        """Why the gate refused it (None when usable)."""
        return None if self.quality is None else self.quality.reason


def gate_faces(image: np.ndarray, detections: Detections, indices: Sequence[int],
               settings: QualitySettings | None, min_eye_px: float = 0.0) -> list[Face]:
    """The faces `indices` of `detections` (found in `image`), in that order, each through the quality gate.

    `settings` None: no gate, every face aligned (evaluation measures the model on every face: dropping the hard
    ones would flatter its figures). `min_eye_px`: faces smaller than this are not people at all here (a poster
    far back), and are left out of the result rather than refused."""
    faces: list[Face] = []
    for i in indices:
        score = float(detections.scores[i])
        quality = None if settings is None else face_quality.geometry(detections.landmarks[i], score, settings)
        if quality is not None and quality.eye_distance < min_eye_px:
            continue
        faces.append(Face(int(i), detections.boxes[i], detections.landmarks[i], score, quality, None))
    passed = [f for f in faces if f.quality is None or f.quality.ok]
    if passed:
        crops = align_faces(image, np.stack([f.landmarks for f in passed]))
        for face, crop in zip(passed, crops):
            if face.quality is not None:
                face.quality = face_quality.pixels(face.quality, crop, settings)
            if face.quality is None or face.quality.ok:
                face.crop = crop
    return faces


def people_in_view(image: np.ndarray, pack: LoadedPack, settings: QualitySettings, min_eye_px: float) -> list[Face]:
    """Every face in `image` certain and large enough to be a person before this camera (a desk's, a counter's),
    largest first, through the quality gate."""
    detections = pack.detector.detect(image)
    order = np.argsort(-(detections.boxes[:, 2] - detections.boxes[:, 0])) if len(detections) else []
    certain = [i for i in order if detections.scores[i] >= settings.min_detection_score]
    return gate_faces(image, detections, certain, settings, min_eye_px)


def embed_faces(pack: LoadedPack, faces: Sequence[Face]) -> np.ndarray:
    """The templates of usable faces, in one batch: shape (N, D), unit length."""
    if not faces:
        return np.zeros((0, pack.embedder.dim), np.float32)
    return pack.embedder.embed(np.stack([f.crop for f in faces]))
