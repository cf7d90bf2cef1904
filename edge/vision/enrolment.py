"""Enrolment into the device's own gallery: `facegate gallery build DIR`.

Every photo gets a result line, and a photo that fails any check is not
enrolled at all. The checks themselves are `models.photos`, the same as the
gateway's enrolment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge.vision.gallery import GalleryStore
from models import LoadedPack
from models.photos import IMAGE_SUFFIXES, PhotoResult, Template, photos_in, read_image, template_from_image
from models.quality import QualitySettings


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
