"""Five-point similarity alignment to the 112x112 ArcFace template."""

from __future__ import annotations

import cv2
import numpy as np

# InsightFace's arcface_dst: where eyes, nose and mouth corners land in a 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
CROP_SIZE = 112


def similarity_transform(src: np.ndarray, dst: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) src -> dst.

    Umeyama's closed form, as skimage's SimilarityTransform.estimate (which
    insightface's face_align uses) computes it; returns the 2x3 matrix.
    """
    src = np.asarray(src, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(axis=0).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_faces(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Crops of shape (N, 112, 112, 3), one per face's five landmarks."""
    crops = np.empty((len(landmarks), CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    for i, points in enumerate(landmarks):
        matrix = similarity_transform(points)
        crops[i] = cv2.warpAffine(image, matrix, (CROP_SIZE, CROP_SIZE), borderValue=0.0)
    return crops
