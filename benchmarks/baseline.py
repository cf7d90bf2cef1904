"""The baseline a user would pick instead: insightface's FaceAnalysis on the same files."""

from __future__ import annotations

import tempfile
from pathlib import Path

from insightface.app import FaceAnalysis

from models import load_manifest
from models.manifest import resolve_file


def face_analysis(det_size: int = 640) -> FaceAnalysis:
    """FaceAnalysis over exactly the buffalo_s files FaceGate verifies (hash-checked)."""
    spec = load_manifest().pack("buffalo_s")
    folder = Path(tempfile.mkdtemp(prefix="buffalo_s-"))
    for file_spec in (spec.detector, spec.embedder):
        (folder / file_spec.filename).symlink_to(resolve_file(file_spec, []))
    app = FaceAnalysis(name=str(folder), allowed_modules=["detection", "recognition"],
                       providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=(det_size, det_size))
    return app
