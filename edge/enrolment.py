"""Enrolment from photos: one consented photo in, one template (or a reason) out.

Used by `facegate gallery build DIR`: every photo gets a result line, and a
photo that fails any check is not enrolled at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge import quality as face_quality
from edge.config import QualitySettings
from edge.gallery import GalleryStore
from models import Detections, Detector, LoadedPack, align_faces

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class PhotoResult:
    path: str
    subject: str
    enrolled: bool
    reason: str | None = None
    quality: float | None = None

    def line(self) -> str:
        status = f"enrolled (quality {self.quality:.2f})" if self.enrolled else f"REJECTED: {self.reason}"
        return f"{self.path}\t{self.subject}\t{status}"


@dataclass
class Template:
    embedding: np.ndarray
    quality: float


def read_image(path: Path) -> np.ndarray | None:
    """Decode any common format to 3-channel BGR (grey and alpha converted); None if undecodable."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def detect_in_photo(image: np.ndarray, detector: Detector) -> Detections:
    """Detect faces in a still photo, including tightly cropped ones.

    Detectors find nothing when a face fills the whole frame (ID-card chip photos
    and aligned crops do); if the plain pass finds nothing, try again with a
    black border of half the photo's size around it, and map the result back.
    """
    detections = detector.detect(image)
    if len(detections):
        return detections
    pad = max(image.shape[:2]) // 2
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    detections = detector.detect(padded)
    detections.boxes -= pad
    detections.landmarks -= pad
    return detections


def template_from_image(image: np.ndarray, pack: LoadedPack, settings: QualitySettings) -> Template | str:
    """A template from a photo holding exactly one good face, or the reason it cannot be one."""
    detections = detect_in_photo(image, pack.detector)
    faces = [i for i in range(len(detections)) if detections.scores[i] >= settings.min_detection_score]
    if not faces:
        return "no face found"
    if len(faces) > 1:
        return f"{len(faces)} faces found; an enrolment photo must show exactly one"
    i = faces[0]
    quality = face_quality.geometry(detections.landmarks[i], float(detections.scores[i]), settings)
    if not quality.ok:
        return quality.reason
    crop = align_faces(image, detections.landmarks[i:i + 1])
    quality = face_quality.pixels(quality, crop[0], settings)
    if not quality.ok:
        return quality.reason
    return Template(embedding=pack.embedder.embed(crop)[0], quality=quality.score(settings))


def photos_in(folder: Path) -> Iterator[tuple[Path, str]]:
    """(photo, subject) pairs: a file's stem, or its sub-folder's name, is the subject."""
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            for photo in sorted(entry.iterdir()):
                if photo.is_file() and not photo.name.startswith("."):
                    yield photo, entry.name
        elif entry.is_file() and not entry.name.startswith("."):
            yield entry, entry.stem


def build_gallery(folder: Path, store: GalleryStore, pack: LoadedPack, settings: QualitySettings,
                  on_result: Callable[[PhotoResult], None] | None = None) -> list[PhotoResult]:
    """Enrol every photo under `folder` into `store`; returns one result per photo."""
    if not folder.is_dir():
        raise NotADirectoryError(f"gallery folder {folder} does not exist or is not a folder")
    results = []
    for path, subject in photos_in(folder):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            result = PhotoResult(str(path), subject, False, f"not an image file ({path.suffix or 'no suffix'})")
        else:
            image = read_image(path)
            outcome = "cannot decode image (corrupt or unsupported)" if image is None else \
                template_from_image(image, pack, settings)
            if isinstance(outcome, Template):
                store.add(subject, pack.name, outcome.embedding, outcome.quality, source=path.name)
                result = PhotoResult(str(path), subject, True, quality=outcome.quality)
            else:
                result = PhotoResult(str(path), subject, False, outcome)
        results.append(result)
        if on_result:
            on_result(result)
    return results
