"""Load a model pack: verified files -> configured sessions -> model objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.detection import Detector
from models.embedder import Embedder
from models.manifest import Manifest, PackSpec, load_manifest, resolve_file
from models.runtime import RuntimeSettings, create_session
from models.scrfd import SCRFD
from models.yunet import YuNet


@dataclass
class LoadedPack:
    spec: PackSpec
    detector: Detector
    embedder: Embedder

    @property
    def name(self) -> str:
        return self.spec.name


def load_pack(
    name: str,
    search_dirs: list[Path],
    runtime: RuntimeSettings,
    detector_max_side: int = 640,
    detector_score_threshold: float = 0.5,
    manifest: Manifest | None = None,
    flip_average: bool = False,
) -> LoadedPack:
    """Resolve, verify and open every file of pack `name`.

    Raises ModelFileError (naming the file and its expected hash) if a file is
    missing or altered.
    """
    spec = (manifest or load_manifest()).pack(name)
    det_path = resolve_file(spec.detector, search_dirs)
    emb_path = resolve_file(spec.embedder, search_dirs)

    det_session = create_session(det_path, spec.detector.sha256, runtime)
    if spec.detector.kind == "scrfd":
        detector: Detector = SCRFD(det_session, max_side=detector_max_side, score_threshold=detector_score_threshold)
    elif spec.detector.kind == "yunet":
        detector = YuNet(det_session, score_threshold=max(detector_score_threshold, 0.6))
    else:
        raise ValueError(f"unsupported detector kind {spec.detector.kind!r} in pack {name}")

    emb_input = spec.embedder.input
    embedder = Embedder(
        create_session(emb_path, spec.embedder.sha256, runtime),
        mean=float(emb_input.get("mean", 127.5)),
        std=float(emb_input.get("std", 127.5)),
        rgb=emb_input.get("channels", "RGB") == "RGB",
        name=spec.embedder.key,
        flip=flip_average,
    )
    return LoadedPack(spec=spec, detector=detector, embedder=embedder)
