"""Cross-quality verification: LFW DevTest with one side of every pair degraded as a gate camera degrades a
face, FaceGate against insightface FaceAnalysis (same model files) and against the figures of the previous commit.

    .venv/bin/python benchmarks/cross_quality.py [--save]

The set (built once, deterministic, under var/eval/cross-quality/): each LFW DevTest image gets one degraded
copy, the kind taken in turn over the images:
- small: the face at a third of its size (a person far from the camera), brought back to the frame's size;
- blur: motion blur, 9 px across;
- noise: sensor noise, sigma 12 grey levels;
- dark: a quarter of the light, with the noise a dark sensor adds;
- bright: over-exposed, highlights clipped;
- jpeg: quality 15 (a starved stream).
A pair compares the clean image a with the degraded image b. Figures:
- the 1,000 listed pairs: 10-fold accuracy (as `make eval`);
- every clean x degraded pair of different images (about 1.2 M different-person, 1,000 same-person): TAR at
  FAR 1e-3 and 1e-4, and per kind TAR at FAR 1e-3.
Images in which no face is found score -1 (a failed pair), never dropped. Tried and kept: flip-averaged
templates (`[models] flip_average`, the default; its row without them is printed too). `--save` records this run's figures
in benchmarks/results/cross_quality.json, which the next run prints as the previous commit's.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from baseline import face_analysis  # noqa: E402
from edge.eval.pairs import embed_image, pair_metrics, read_pairs  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from eval_pairs import face_analysis_embedder  # noqa: E402
from models import LoadedPack  # noqa: E402

LFW = REPO.parent / "shared" / "data" / "faces" / "lfw-devtest"
SET = REPO / "var" / "eval" / "cross-quality"
RESULTS = REPO / "benchmarks" / "results" / "cross_quality.json"
KINDS = ("small", "blur", "noise", "dark", "bright", "jpeg")


def degrade(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """`image` as a gate camera might have seen it."""
    h, w = image.shape[:2]
    if kind == "small":
        small = cv2.resize(image, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "blur":
        kernel = np.zeros((9, 9), np.float32)
        kernel[4, :] = 1 / 9
        return cv2.filter2D(image, -1, kernel)
    if kind == "noise":
        return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    if kind == "dark":
        return np.clip(image * 0.25 + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    if kind == "bright":
        return np.clip(image * 1.8 + 40, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 15])[1], cv2.IMREAD_COLOR)
    raise ValueError(kind)


def image_kinds() -> dict[str, str]:
    """Every LFW DevTest image (its name under LFW) -> the kind of degradation its copy gets, in turn."""
    names = sorted(str(p.relative_to(LFW)) for p in (LFW / "images").glob("*/*.jpg"))
    return {name: KINDS[i % len(KINDS)] for i, name in enumerate(names)}


def build_set() -> dict[str, str]:
    """Write the degraded copies (once); image name -> its kind."""
    kinds = image_kinds()
    rng = np.random.default_rng(16)
    for name, kind in kinds.items():
        out = SET / name
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), degrade(cv2.imread(str(LFW / name)), kind, rng), [cv2.IMWRITE_PNG_COMPRESSION, 1]
                        if out.suffix == ".png" else [cv2.IMWRITE_JPEG_QUALITY, 100])
    return kinds


def templates(embed: Callable[[Path], np.ndarray | None], root: Path, names: list[str]) -> np.ndarray:
    """(N, d) templates, a zero row where no face was found."""
    rows = [embed(root / name) for name in names]
    dim = next(len(r) for r in rows if r is not None)
    return np.stack([r if r is not None else np.zeros(dim, np.float32) for r in rows])


def figures(clean: np.ndarray, worse: np.ndarray, names: list[str], kinds: dict[str, str]) -> dict:
    index = {n: i for i, n in enumerate(names)}
    pairs = read_pairs(LFW / "pairs.csv")
    found_a, found_b = np.linalg.norm(clean, axis=1) > 0, np.linalg.norm(worse, axis=1) > 0
    listed = np.array([float(clean[index[p.a]] @ worse[index[p.b]]) if found_a[index[p.a]] and found_b[index[p.b]]
                       else -1.0 for p in pairs])
    no_face = int((~found_b).sum())
    metrics = pair_metrics(listed, np.array([p.same for p in pairs]), no_face)
    scores = clean @ worse.T
    scores[~found_a, :] = -1.0
    scores[:, ~found_b] = -1.0
    people = np.array([n.split("/")[1] for n in names])
    same = people[:, None] == people[None, :]
    other_image = ~np.eye(len(names), dtype=bool)
    genuine, impostor = scores[same & other_image], scores[~same]
    kind_of = np.array([kinds[n] for n in names])

    def tar(far: float, columns: np.ndarray | None = None) -> float:
        g = genuine if columns is None else scores[same & other_image & columns[None, :]]
        i = impostor if columns is None else scores[~same & columns[None, :]]
        threshold = np.sort(i)[::-1][int(len(i) * far)]
        return float(np.mean(g > threshold))

    return {
        "accuracy": metrics["accuracy_10fold"]["mean"], "no_face": no_face,
        "tar_1e-3": tar(1e-3), "tar_1e-4": tar(1e-4),
        "by_kind": {k: tar(1e-3, kind_of == k) for k in KINDS},
        "pairs": {"genuine": int(len(genuine)), "impostor": int(len(impostor))},
    }


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help=f"record this run's figures in {RESULTS}")
    args = parser.parse_args()
    kinds = build_set()
    names = sorted(kinds)
    pack = open_pack(EdgeConfig())
    app = face_analysis()
    rows = {}
    plain = LoadedPack(pack.spec, pack.detector, copy.copy(pack.embedder))
    plain.embedder.flip = False
    for label, embed in (("FaceGate", lambda p: embed_image(p, pack)), ("FaceAnalysis", face_analysis_embedder(app)),
                         ("FaceGate without flip-averaged templates", lambda p: embed_image(p, plain))):
        rows[label] = figures(templates(embed, LFW, names), templates(embed, SET, names), names, kinds)
        print(f"{label}: done", file=sys.stderr, flush=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    if previous:
        rows[f"FaceGate at {previous['commit']} (previous)"] = previous["FaceGate"]
    g = next(iter(rows.values()))["pairs"]
    print(f"\nCross-quality LFW DevTest: clean a, degraded b ({', '.join(KINDS)}); all pairs: {g['genuine']:,} "
          f"same-person, {g['impostor']:,} different-person\n")
    print("| pipeline | 10-fold accuracy (1,000 pairs) | b without a face | TAR at FAR 1e-3 | TAR at FAR 1e-4 | "
          + " | ".join(f"{k} (1e-3)" for k in KINDS) + " |")
    print("|---" * (5 + len(KINDS)) + "|")
    for label, f in rows.items():
        print(f"| {label} | {100 * f['accuracy']:.2f}% | {f['no_face']} | {f['tar_1e-3']:.4f} | {f['tar_1e-4']:.4f} | "
              + " | ".join(f"{f['by_kind'][k]:.4f}" for k in KINDS) + " |")
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"commit": commit(), "FaceGate": rows["FaceGate"]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
