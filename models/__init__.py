"""Model packs: hash-pinned ONNX files and one small class per model.

`load_pack(name, settings)` is the entry point: it resolves and verifies the
pack's files (see `manifest.py`) and returns a detector and an embedder.
"""

from models.aligner import align_faces
from models.detection import Detections, Detector
from models.embedder import Embedder
from models.manifest import Manifest, ModelFileError, PackSpec, load_manifest
from models.pack import LoadedPack, load_pack
from models.runtime import RuntimeSettings

__all__ = [
    "Detections",
    "Detector",
    "Embedder",
    "LoadedPack",
    "Manifest",
    "ModelFileError",
    "PackSpec",
    "RuntimeSettings",
    "align_faces",
    "load_manifest",
    "load_pack",
]
