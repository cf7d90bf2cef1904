"""Quality-aware score normalisation on the cross-quality set: tried, and not kept (docs/benchmarks.md).

    .venv/bin/python benchmarks/quality_norm.py

The set of benchmarks/cross_quality.py (clean a, degraded b). Each degraded face's quality is measured two ways:
the length of its embedding before normalisation (ArcFace-type models give poor faces shorter features) and its
detection score. The b side is binned into 8 quantiles of that quality, and each bin's different-person scores
are normalised: shifted to mean 0 (`shift`), or also scaled to spread 1 (`z-norm`). The bins' means and spreads
are fitted on half of the people and the figures measured on the other half, then the halves swapped (the mean of
both is printed), so no pair tunes its own normalisation. Baseline: the plain cosine score, same halves.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from cross_quality import LFW, SET, build_set  # noqa: E402
from edge.eval.pairs import pair_face  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from models import LoadedPack, align_faces  # noqa: E402
from models.photos import read_image  # noqa: E402

BINS = 8


def face(path: Path, pack: LoadedPack) -> tuple[np.ndarray, float, float] | None:
    """(template, feature length before normalisation, detection score) of the image's main face."""
    image = read_image(path)
    found = None if image is None else pair_face(image, pack)
    if found is None:
        return None
    landmarks, score = found
    crop = align_faces(image, landmarks[None])
    e = pack.embedder
    blob = cv2.dnn.blobFromImages([crop[0]], 1.0 / e.std, (e.size, e.size), (e.mean,) * 3, swapRB=e.rgb)
    raw = e.session.run([e.output_name], {e.input_name: blob})[0].ravel()
    return e.embed(crop)[0], float(np.linalg.norm(raw)), score


def tar(scores: np.ndarray, genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    i = scores[impostor]
    threshold = np.sort(i)[::-1][int(len(i) * far)]
    return float(np.mean(scores[genuine] > threshold))


def normalised(scores: np.ndarray, quality: np.ndarray, fit: np.ndarray, scale: bool) -> np.ndarray:
    """`scores` with each column's quality bin's different-person scores (fitted on `fit` pairs) at mean 0 (and
    spread 1 with `scale`)."""
    edges = np.quantile(quality, np.linspace(0, 1, BINS + 1))
    bins = np.clip(np.searchsorted(edges, quality, side="right") - 1, 0, BINS - 1)
    out = scores.copy()
    for k in range(BINS):
        columns = bins == k
        fitted = scores[fit & columns[None, :]]
        out[:, columns] = (scores[:, columns] - fitted.mean()) / (fitted.std() if scale else 1.0)
    return out


def main() -> int:
    kinds = build_set()
    names = sorted(kinds)
    pack = open_pack(EdgeConfig())
    rows = {}
    for side, root in (("a", LFW), ("b", SET)):
        rows[side] = [face(root / n, pack) for n in names]
    found = np.array([ra is not None and rb is not None for ra, rb in zip(rows["a"], rows["b"])])
    names = [n for n, ok in zip(names, found) if ok]
    a = np.stack([r[0] for r, ok in zip(rows["a"], found) if ok])
    b = np.stack([r[0] for r, ok in zip(rows["b"], found) if ok])
    quality = {"feature length": np.array([r[1] for r, ok in zip(rows["b"], found) if ok]),
               "detection score": np.array([r[2] for r, ok in zip(rows["b"], found) if ok])}
    scores = a @ b.T
    people = np.array([n.split("/")[1] for n in names])
    same = people[:, None] == people[None, :]
    other_image = ~np.eye(len(names), dtype=bool)
    halves = np.unique(people)
    np.random.default_rng(0).shuffle(halves)
    results: dict[str, list[tuple[float, float]]] = {}
    for fold in range(2):
        fit_people = np.isin(people, halves[fold::2])
        fit = fit_people[:, None] & fit_people[None, :] & ~same
        test = ~fit_people[:, None] & ~fit_people[None, :]
        genuine, impostor = same & other_image & test, ~same & test
        variants = {"plain cosine (baseline)": scores}
        for label, q in quality.items():
            variants[f"shift by {label}"] = normalised(scores, q, fit, scale=False)
            variants[f"z-norm by {label}"] = normalised(scores, q, fit, scale=True)
        for label, s in variants.items():
            results.setdefault(label, []).append((tar(s, genuine, impostor, 1e-3), tar(s, genuine, impostor, 1e-4)))
    print(f"\nCross-quality LFW DevTest, {len(names)} images with a face on both sides; quality bins fitted on half "
          f"the people, measured on the other half, mean of both halves\n")
    print("| scores | TAR at FAR 1e-3 | TAR at FAR 1e-4 |")
    print("|---|---|---|")
    for label, figures in results.items():
        t3, t4 = np.mean(figures, axis=0)
        print(f"| {label} | {t3:.4f} | {t4:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
