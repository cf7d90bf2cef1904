"""Liveness figures: the upstream samples, and attacks simulated from real face photos.

    .venv/bin/python benchmarks/pad_eval.py [--lfw 100]

1. `../shared/data/pad` (3 real captures: printed photo, phone screen, live face).
2. Simulated attacks made here from the real photos of ../shared/data/faces
   (celebrities + some LFW): each photo as a *printed photo* (lower contrast and
   saturation, paper grain, blur, a perspective warp, a glare spot, held in front
   of a background and re-captured) and as a *screen replay* (RGB sub-pixels,
   moiré, a screen's gamma, a black bezel, a reflection, re-captured). The
   photos themselves are the bona fide presentations.
Both models fused (FaceGate's setting) against each model alone (baselines),
APCER per attack type and BPCER at the 0.5 threshold; and the cost of liveness
per verified track against the rest of the per-track work.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.eval.pad import Presentation, pad_metrics, read_labels  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from edge.vision.liveness import LivenessChecker  # noqa: E402

SHARED = REPO.parent / "shared"
FRAME_W, FRAME_H = 640, 480


def _background(rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(60, 200, 3).astype(np.float32)
    bg = np.ones((FRAME_H, FRAME_W, 3), np.float32) * base
    bg += cv2.GaussianBlur(rng.normal(0, 25, (FRAME_H, FRAME_W, 1)).astype(np.float32), (0, 0), 25)[..., None]
    return bg


def _place(medium: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put a flat medium into a camera frame with a random perspective (held by hand, not square-on)."""
    h, w = medium.shape[:2]
    scale = min(FRAME_W * 0.75 / w, FRAME_H * 0.85 / h) * rng.uniform(0.8, 1.0)
    tw, th = w * scale, h * scale
    x0, y0 = (FRAME_W - tw) / 2 + rng.uniform(-40, 40), (FRAME_H - th) / 2 + rng.uniform(-20, 20)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[x0, y0], [x0 + tw, y0], [x0 + tw, y0 + th], [x0, y0 + th]])
    dst += rng.uniform(-0.07, 0.07, (4, 2)).astype(np.float32) * np.float32([tw, th])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(medium, m, (FRAME_W, FRAME_H))
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (FRAME_W, FRAME_H))[..., None]
    return warped * mask + _background(rng) * (1 - mask)


def _glare(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * FRAME_W, rng.uniform(0.2, 0.8) * FRAME_H
    spot = np.exp(-(((xx - cx) / rng.uniform(60, 160)) ** 2 + ((yy - cy) / rng.uniform(40, 120)) ** 2))
    return frame + strength * 255 * spot[..., None]


def _recapture(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frame = cv2.GaussianBlur(np.clip(frame, 0, 255), (0, 0), rng.uniform(0.5, 1.0))
    frame = frame + rng.normal(0, 3, frame.shape)
    ok, data = cv2.imencode(".jpg", np.clip(frame, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def printed_photo(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = photo.astype(np.float32)
    grey = p.mean(axis=2, keepdims=True)
    p = grey + (p - grey) * 0.75  # inks: less saturated
    p = p * 0.8 + 30  # paper white is not light, ink black is not black
    grain = rng.normal(0, 7, p.shape[:2]).astype(np.float32)
    p += (cv2.GaussianBlur(grain, (0, 0), 1.2) + rng.normal(0, 3, p.shape[:2]))[..., None]
    p = cv2.GaussianBlur(p, (0, 0), 1.0)
    p = cv2.copyMakeBorder(p, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=(235, 235, 235))  # paper margin
    return _recapture(_glare(_place(p, rng), rng, rng.uniform(0.1, 0.35)), rng)


def screen_replay(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = photo.astype(np.float32)
    p = 255 * (p / 255) ** 0.85 + 10  # a screen's gamma, lit from behind
    h, w = p.shape[:2]
    subpixel = np.ones((h, w, 3), np.float32) * 0.8
    for c, ch in enumerate((2, 1, 0)):  # B, G, R stripes
        subpixel[:, c::3, ch] = 1.0
    p *= subpixel
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.25, 0.45)
    moire = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    p += rng.uniform(6, 14) * moire[..., None]
    p = cv2.copyMakeBorder(p, 18, 18, 18, 18, cv2.BORDER_CONSTANT, value=(10, 10, 10))  # bezel
    return _recapture(_glare(_place(p, rng), rng, rng.uniform(0.05, 0.25)), rng)


def simulate(out: Path, photos: list[Path], seed: int = 0) -> Path:
    """Write bona fide, printed and screen presentations of each photo, and labels.csv."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = ["img,label,attack"]
    for n, path in enumerate(photos):
        photo = cv2.imread(str(path))
        if photo is None:
            continue
        scale = 480 / max(photo.shape[:2])
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else photo
        cv2.imwrite(str(out / f"{n:04d}-live.jpg"), photo)
        cv2.imwrite(str(out / f"{n:04d}-print.jpg"), printed_photo(photo, rng))
        cv2.imwrite(str(out / f"{n:04d}-screen.jpg"), screen_replay(photo, rng))
        rows += [f"{n:04d}-live.jpg,live,", f"{n:04d}-print.jpg,spoof,printed photo (simulated)",
                 f"{n:04d}-screen.jpg,spoof,screen replay (simulated)"]
    (out / "labels.csv").write_text("\n".join(rows) + "\n")
    return out / "labels.csv"


def scorer(pack, checker: LivenessChecker, models: list):
    """Live score of the largest face using `models` (a subset of the checker's)."""
    cache: dict[Path, tuple] = {}

    def score(path: Path) -> float | None:
        if path not in cache:
            image = cv2.imread(str(path))
            d = pack.detector.detect(image) if image is not None else None
            cache[path] = (image, d)
        image, d = cache[path]
        if d is None or len(d) == 0:
            return None
        i = int(np.argmax((d.boxes[:, 2] - d.boxes[:, 0]) * (d.boxes[:, 3] - d.boxes[:, 1])))
        live = 0.0
        for m in models:
            live += float(m.probabilities(m.crop(image, d.boxes[i])[None])[0, 1])
        return live / len(models)
    return score


def table(title: str, results: dict[str, dict]) -> None:
    kinds = sorted({k for r in results.values() for k in r["apcer"]})
    print(f"\n{title}")
    print("| liveness model | " + " | ".join(f"APCER {k}" for k in kinds) + " | BPCER | no face |")
    print("|---|" + "---|" * (len(kinds) + 2))
    for name, r in results.items():
        cells = ["n/a" if r["apcer"].get(k) is None else f"{r['apcer'][k]:.3f}" for k in kinds]
        bpcer = "n/a" if r["bpcer"] is None else f"{r['bpcer']:.3f}"
        print(f"| {name} | " + " | ".join(cells) + f" | {bpcer} | {sum(r['no_face'].values())} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", type=int, default=100, help="LFW photos added to the 64 celebrity photos")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()

    config = EdgeConfig()
    config.models.search_paths = [SHARED / "models" / "minifasnet"]
    pack = open_pack(config)
    checker = LivenessChecker.open(config)
    if checker is None:
        sys.exit("liveness weights not found")
    v2, v1se = checker.models
    variants = {"FaceGate: V2 + V1SE fused": [v2, v1se], "baseline: V2 alone (x2.7)": [v2],
                "baseline: V1SE alone (x4.0)": [v1se]}

    samples = read_labels(SHARED / "data" / "pad" / "labels.csv")
    table("../shared/data/pad (real captures, 1 each)",
          {n: pad_metrics(samples, scorer(pack, checker, m), args.threshold) for n, m in variants.items()})

    photos = sorted((SHARED / "data" / "faces" / "celebrities").glob("*.jpg"))
    photos += sorted((SHARED / "data" / "faces" / "lfw-devtest").rglob("*.jpg"))[:args.lfw]
    with tempfile.TemporaryDirectory() as tmp:
        labels = simulate(Path(tmp), photos)
        presentations: list[Presentation] = read_labels(labels)
        table(f"simulated from {len(photos)} real photos (celebrities + LFW): bona fide = the photos themselves",
              {n: pad_metrics(presentations, scorer(pack, checker, m), args.threshold) for n, m in variants.items()})

    # Cost per verified track: liveness runs on `frames` (2) face crops of each track.
    image = cv2.imread(str(SHARED / "data" / "pad" / "image_T1.jpg"))
    box = pack.detector.detect(image).boxes[:1]
    for _ in range(5):
        checker.scores(image, box)
        pack.embedder.embed(np.zeros((1, 112, 112, 3), np.uint8))
    t0 = time.perf_counter()
    for _ in range(100):
        checker.scores(image, box)
    live_ms = (time.perf_counter() - t0) * 10
    t0 = time.perf_counter()
    for _ in range(100):
        pack.embedder.embed(np.zeros((1, 112, 112, 3), np.uint8))
    embed_ms = (time.perf_counter() - t0) * 10
    frames = config.liveness.frames
    print(f"\n| cost per verified track | ms |\n|---|---|\n| liveness ({frames} frames x 2 models) | "
          f"{frames * live_ms:.1f} |\n| baseline: embedding its {config.policy.frames_needed} frames | "
          f"{config.policy.frames_needed * embed_ms:.1f} |\nratio: {frames * live_ms / (config.policy.frames_needed * embed_ms):.1f}x")


if __name__ == "__main__":
    main()
