"""What every face detector returns, and the pieces detectors share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


@dataclass
class Detections:
    """Faces found in one image, in that image's pixel coordinates.

    Landmarks are five points per face in image order: left eye, right eye,
    nose tip, left mouth corner, right mouth corner (left = smaller x).
    """

    boxes: np.ndarray  # (N, 4) float32: x1, y1, x2, y2
    scores: np.ndarray  # (N,) float32
    landmarks: np.ndarray  # (N, 5, 2) float32

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32))

    def scaled(self, factor: float) -> Detections:
        """The same faces in an image `factor` times as large (a sub-stream's faces on its main stream)."""
        if factor == 1.0:
            return self
        return Detections(self.boxes * np.float32(factor), self.scores, self.landmarks * np.float32(factor))

    def take(self, index: np.ndarray | list[int]) -> Detections:
        index = np.asarray(index, dtype=np.int64)
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index])


class Detector(Protocol):
    """A face detector: any image size in, boxes + scores + 5 landmarks out."""

    name: str

    def detect(self, image: np.ndarray, enlarge: bool = True) -> Detections:
        """Faces in `image`; with `enlarge` false an image smaller than the detector's input is not scaled up
        (where the input size can follow the image)."""


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first."""
    if len(scores) == 0:
        return np.zeros((0,), np.int64)
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou_threshold)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def merge_levels(boxes: list[np.ndarray], scores: list[np.ndarray], landmarks: list[np.ndarray],
                 scale: float, nms_threshold: float) -> Detections:
    """Join per-stride candidates, map them back to image pixels, and suppress overlaps."""
    if not scores:
        return Detections.empty()
    boxes_a = np.concatenate(boxes).astype(np.float32) / scale
    scores_a = np.concatenate(scores).astype(np.float32)
    landmarks_a = np.concatenate(landmarks).astype(np.float32) / scale
    keep = non_max_suppression(boxes_a, scores_a, nms_threshold)
    return Detections(boxes_a[keep], scores_a[keep], landmarks_a[keep])


def letterbox_size(height: int, width: int, max_side: int, stride: int = 32,
                   enlarge: bool = True) -> tuple[int, int, float]:
    """Network input (h, w) that keeps the image's aspect ratio, padded to `stride`; without `enlarge`, an image
    whose long side is under `max_side` keeps its size.

    A 1280x720 frame at max_side 640 becomes 640x384 instead of 640x640: 40 %
    less work for the detector with the same pixels per face.
    """
    scale = min(max_side / max(height, width), 1e9 if enlarge else 1.0)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    pad_h = -(-new_h // stride) * stride
    pad_w = -(-new_w // stride) * stride
    return pad_h, pad_w, scale


def letterbox(image: np.ndarray, pad_h: int, pad_w: int, scale: float) -> np.ndarray:
    """Resize by `scale` and pad bottom/right with zeros to (pad_h, pad_w)."""
    h, w = image.shape[:2]
    new_h, new_w = min(pad_h, max(1, round(h * scale))), min(pad_w, max(1, round(w * scale)))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_h, new_w) != (h, w) else image
    if (new_h, new_w) == (pad_h, pad_w):
        return resized
    canvas = np.zeros((pad_h, pad_w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas
