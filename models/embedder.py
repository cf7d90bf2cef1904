"""Face embedder: aligned 112x112 crops in, L2-normalised templates out."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort


class Embedder:
    """An ArcFace-style recogniser (MobileFaceNet w600k, SFace, ...).

    Normalisation comes from the manifest's input spec so one class serves every
    recogniser pack. Batches are run in one call when the export allows it.
    """

    def __init__(self, session: ort.InferenceSession, mean: float, std: float, rgb: bool, name: str = "embedder",
                 flip: bool = False):
        self.session = session
        self.flip = flip  # each crop's template averaged with its mirror image's (twice the work)
        self.name = name
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = session.get_outputs()[0].name
        self.size = int(inp.shape[2])
        self.batched = not isinstance(inp.shape[0], int)  # a symbolic batch dimension
        self.mean, self.std, self.rgb = mean, std, rgb
        self.dim = int(session.get_outputs()[0].shape[-1])

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) BGR uint8 crops -> (N, dim) float32 unit vectors."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        images = list(crops) + ([np.ascontiguousarray(c[:, ::-1]) for c in crops] if self.flip else [])
        blob = cv2.dnn.blobFromImages(images, 1.0 / self.std, (self.size, self.size),
                                      (self.mean, self.mean, self.mean), swapRB=self.rgb)
        if self.batched:
            raw = self.session.run([self.output_name], {self.input_name: blob})[0]
        else:
            raw = np.concatenate([self.session.run([self.output_name], {self.input_name: b[None]})[0] for b in blob])
        raw = raw.reshape(len(images), -1).astype(np.float32)
        if self.flip:
            raw = raw[:len(crops)] / np.linalg.norm(raw[:len(crops)], axis=1, keepdims=True) \
                + raw[len(crops):] / np.linalg.norm(raw[len(crops):], axis=1, keepdims=True)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
