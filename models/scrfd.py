"""SCRFD face detector (InsightFace), any input size, five landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from models.detection import Detections, letterbox, letterbox_size, merge_levels

_STRIDES = (8, 16, 32)
_ANCHORS_PER_CELL = 2


class SCRFD:
    """SCRFD with keypoints ("bnkps" exports: 9 outputs, strides 8/16/32, 2 anchors).

    `max_side` sets the network input: the frame is scaled so its long side is
    `max_side` and padded to a multiple of 32, keeping its aspect ratio.
    """

    name = "scrfd"

    def __init__(self, session: ort.InferenceSession, max_side: int = 640,
                 score_threshold: float = 0.5, nms_threshold: float = 0.4):
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]
        if len(self.output_names) != 9:
            raise ValueError(f"SCRFD export with keypoints expected (9 outputs), got {len(self.output_names)}")
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._anchor_cache: dict[tuple[int, int, int], np.ndarray] = {}

    def _anchors(self, height: int, width: int, stride: int) -> np.ndarray:
        key = (height, width, stride)
        anchors = self._anchor_cache.get(key)
        if anchors is None:
            ys, xs = np.mgrid[:height, :width]
            centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
            anchors = np.repeat(centers, _ANCHORS_PER_CELL, axis=0)
            self._anchor_cache[key] = anchors
        return anchors

    def detect(self, image: np.ndarray, enlarge: bool = True) -> Detections:
        pad_h, pad_w, scale = letterbox_size(image.shape[0], image.shape[1], self.max_side, enlarge=enlarge)
        canvas = letterbox(image, pad_h, pad_w, scale)
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128.0, (pad_w, pad_h), (127.5, 127.5, 127.5), swapRB=True)
        outputs = self.session.run(self.output_names, {self.input_name: blob})

        boxes, scores, kps = [], [], []
        for level, stride in enumerate(_STRIDES):
            level_scores = outputs[level].reshape(-1)
            keep = np.nonzero(level_scores >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            anchors = self._anchors(pad_h // stride, pad_w // stride, stride)[keep]
            dist = outputs[level + 3].reshape(-1, 4)[keep] * stride
            boxes.append(np.concatenate([anchors - dist[:, :2], anchors + dist[:, 2:]], axis=1))
            points = outputs[level + 6].reshape(-1, 5, 2)[keep] * stride + anchors[:, None, :]
            kps.append(points)
            scores.append(level_scores[keep])
        return merge_levels(boxes, scores, kps, scale, self.nms_threshold)
