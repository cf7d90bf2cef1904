"""Alignment for small faces: bicubic against bilinear upsampling in the 112x112 warp. Tried, and not kept
(docs/benchmarks.md).

    .venv/bin/python benchmarks/small_face_alignment.py

Clean LFW DevTest images (side a, aligned as today) against the same images shrunk to a third (side b: about
83x83 pixels, the face some 35 px across, kept small -- unlike cross_quality.py's `small`, which is brought back
to full size). A face that small is enlarged about three times by the alignment warp; each variant warps side b
its way. Figures as cross_quality.py's: 10-fold accuracy over the 1,000 listed pairs, TAR at FAR 1e-3 and 1e-4
over every clean x small pair.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from cross_quality import LFW, figures, image_kinds, templates  # noqa: E402
from edge.eval.pairs import embed_image, pair_face  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from models import LoadedPack  # noqa: E402
from models.aligner import CROP_SIZE, similarity_transform  # noqa: E402
from models.photos import read_image  # noqa: E402


def warp(interpolation: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def align(image: np.ndarray, points: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(image, similarity_transform(points), (CROP_SIZE, CROP_SIZE), flags=interpolation,
                              borderValue=0.0)
    return align


def small_face(pack: LoadedPack, align: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def embed(path: Path) -> np.ndarray | None:
        image = read_image(path)
        if image is None:
            return None
        image = cv2.resize(image, (image.shape[1] // 3, image.shape[0] // 3), interpolation=cv2.INTER_AREA)
        found = pair_face(image, pack)
        return None if found is None else pack.embedder.embed(align(image, found[0])[None])[0]
    return embed


def main() -> int:
    pack = open_pack(EdgeConfig())
    kinds = image_kinds()  # figures() reports by kind too; here every side b is small
    names = sorted(kinds)
    clean = templates(lambda p: embed_image(p, pack), LFW, names)
    print("\n| side b warped with | 10-fold accuracy | TAR at FAR 1e-3 | TAR at FAR 1e-4 | b without a face |")
    print("|---|---|---|---|---|")
    for label, flag in (("bilinear (today, baseline)", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC),
                        ("Lanczos", cv2.INTER_LANCZOS4)):
        f = figures(clean, templates(small_face(pack, warp(flag)), LFW, names), names, kinds)
        print(f"| {label} | {100 * f['accuracy']:.2f} % | {f['tar_1e-3']:.4f} | {f['tar_1e-4']:.4f} | {f['no_face']} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
