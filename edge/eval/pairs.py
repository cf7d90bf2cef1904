"""`facegate eval pairs`: verification accuracy through the full pipeline.

Each image goes detect -> align -> embed with the edge's own settings. An image
where no face is found is counted and its pairs score -1 (a certain "different"),
never dropped: dropping hard images would flatter the figures.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.photos import detect_in_photo, read_image
from models import Detections, LoadedPack
from models.faces import embed_faces, gate_faces

FARS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool


def read_pairs(path: Path) -> list[Pair]:
    """Pairs from a CSV with columns img_a, img_b, same (1 = same person)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"img_a", "img_b", "same"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [Pair(r["img_a"], r["img_b"], r["same"].strip() in ("1", "true", "True")) for r in reader]


def main_face(detections: Detections, height: int, width: int) -> int | None:
    """The face a pair image is about: large and central (as insightface ranks them)."""
    if len(detections) == 0:
        return None
    boxes = detections.boxes
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    offset = np.hypot((boxes[:, 0] + boxes[:, 2]) / 2 - width / 2, (boxes[:, 1] + boxes[:, 3]) / 2 - height / 2)
    return int(np.argmax(area - 2.0 * offset**2))


def pair_face(image: np.ndarray, pack: LoadedPack) -> tuple[np.ndarray, float] | None:
    """The face a pair image is about (`main_face`): its five landmarks and detection score; None without one."""
    detections = detect_in_photo(image, pack.detector)
    i = main_face(detections, *image.shape[:2])
    return None if i is None else (detections.landmarks[i], float(detections.scores[i]))


def embed_image(path: Path, pack: LoadedPack) -> np.ndarray | None:
    """The template of the face a pair image is about, with no quality gate; None without a face."""
    image = read_image(path)
    if image is None:
        return None
    detections = detect_in_photo(image, pack.detector)
    i = main_face(detections, *image.shape[:2])
    return None if i is None else embed_faces(pack, gate_faces(image, detections, [i], None))[0]


def pair_scores(pairs: list[Pair], embed: Callable[[Path], np.ndarray | None], root: Path,
                progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Cosine score per pair (-1 where a face is missing) and the count of faceless images."""
    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    templates: dict[str, np.ndarray | None] = {}
    for i, name in enumerate(names):
        templates[name] = embed(root / name)
        if progress:
            progress(i + 1, len(names))
    scores = np.array([
        float(templates[p.a] @ templates[p.b]) if templates[p.a] is not None and templates[p.b] is not None else -1.0
        for p in pairs
    ])
    return scores, sum(t is None for t in templates.values())


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy, accepting score > threshold."""
    candidates = np.unique(np.concatenate([scores, [-1.0 - 1e-6]]))
    accuracy = np.array([np.mean((scores > t) == same) for t in candidates])
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float] | None:
    """(TAR, threshold) at a false-accept rate, or None if too few impostor pairs to measure it."""
    impostors = np.sort(scores[~same])[::-1]
    if len(impostors) * far < 1:
        return None
    allowed = int(np.floor(len(impostors) * far))
    threshold = float(impostors[allowed])  # accept > threshold: at most `allowed` impostors pass
    return float(np.mean(scores[same] > threshold)), threshold


def auc(scores: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve: P(genuine score > impostor score), ties counted half."""
    gen, imp = np.sort(scores[same]), np.sort(scores[~same])
    below = np.searchsorted(imp, gen, side="left")  # impostors strictly below each genuine score
    ties = np.searchsorted(imp, gen, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(gen) * len(imp)))


def pair_metrics(scores: np.ndarray, same: np.ndarray, no_face: int, folds: int = 10) -> dict:
    """The figures `facegate eval pairs --json` prints."""
    same = np.asarray(same, dtype=bool)
    fold_of = np.arange(len(scores)) % folds
    fold_acc, fold_thr = [], []
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        threshold, _ = best_threshold(scores[train], same[train])
        fold_acc.append(float(np.mean((scores[test] > threshold) == same[test])))
        fold_thr.append(threshold)
    threshold_all, _ = best_threshold(scores, same)
    tar = {}
    thresholds = {"accuracy": round(threshold_all, 4)}
    for far in FARS:
        found = tar_at_far(scores, same, far)
        tar[f"{far:g}"] = None if found is None else round(found[0], 4)
        thresholds[f"far_{far:g}"] = None if found is None else round(found[1], 4)
    return {
        "pairs": int(len(scores)),
        "same_pairs": int(same.sum()),
        "different_pairs": int((~same).sum()),
        "no_face": int(no_face),
        "accuracy_10fold": {"mean": round(float(np.mean(fold_acc)), 4), "std": round(float(np.std(fold_acc)), 4)},
        "auc": round(auc(scores, same), 5),
        "tar_at_far": tar,
        "thresholds": thresholds,
    }
