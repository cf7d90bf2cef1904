"""Presentation-attack detection on the edge: is the face in front of the camera a live one?

Both MiniFASNets of the manifest's `pad` entry look at the face, each on its own
crop scale; the live score is their mean "real face" probability (0..1). The
gate policy fuses a track's scores over the frames it combines and answers
`spoof_suspected` when the mean stays below the threshold.

A device whose PAD weights are missing runs without liveness and says so:
a warning at start, and `liveness_enabled: false` in every verdict and heartbeat.
"""

from __future__ import annotations

import logging

import numpy as np

from edge.settings import EdgeConfig
from models import load_manifest
from models.manifest import ModelFileError, PadSpec, sha256_of
from models.pad.minifasnet import MiniFASNet, prepare

log = logging.getLogger(__name__)


class LivenessChecker:
    def __init__(self, spec: PadSpec, models: list[MiniFASNet], threshold: float):
        self.spec = spec
        self.models = models
        self.threshold = threshold

    @classmethod
    def open(cls, config: EdgeConfig) -> LivenessChecker | None:
        """The configured detector, converted from its pinned weights on first use; None (and why) if unusable."""
        settings = config.liveness
        if not settings.enabled:
            log.warning("liveness is OFF (disabled in the configuration): printed photos and screens are not caught")
            return None
        try:
            spec = load_manifest().pad[settings.model]
        except KeyError:
            raise ModelFileError(f"unknown liveness model {settings.model!r}") from None
        runtime = config.models.runtime()
        models = []
        try:
            for file, scale in spec.models:
                path = prepare(file, config.models.search_dirs(), config.models.dir / "prepared")
                models.append(MiniFASNet(path, sha256_of(path), scale, runtime))
        except ModelFileError as exc:
            log.warning("liveness is OFF: %s. Every verdict and heartbeat says liveness_enabled=false", exc)
            return None
        threshold = spec.live_threshold if settings.threshold is None else settings.threshold
        return cls(spec, models, threshold)

    def scores(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Live score (0..1) of each face box in one frame."""
        if len(boxes) == 0:
            return np.zeros(0, np.float32)
        live = np.zeros(len(boxes), np.float32)
        for model in self.models:
            crops = np.stack([model.crop(image, box) for box in boxes])
            live += model.probabilities(crops)[:, 1]
        return live / len(self.models)
