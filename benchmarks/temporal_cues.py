"""Does a model-free temporal cue separate flat photos from live faces? Measured before building it in.

    .venv/bin/python benchmarks/temporal_cues.py

Cue: a flat photo or screen moved before the camera keeps all its points on one
plane, so the homography through the eye and mouth corners of one frame onto a
later frame also predicts where the nose goes; a live head is not flat, so when
it turns, the nose leaves that plane. Residual = nose prediction error divided
by the eye distance, per frame pair (5 detector frames apart), per track.

Live: the tracks of ../shared/data/video/short_hamilton_clip.mp4 (real people,
moving naturally). Flat: the real captures in ../shared/data/pad and the clip's
enrolment photos, each moved as a hand-held sheet would be (every pose of a flat
sheet is a homography of it, so these streams are physically exact for a print).
Prints the residual per track and how well a threshold separates them (AUC).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.eval.pairs import auc  # noqa: E402
from edge.eval.synthetic import read_video  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from edge.vision.tracker import Tracker  # noqa: E402

SHARED = REPO.parent / "shared"
GAP = 5  # detector frames between the two frames compared


def residuals(landmarks: list[np.ndarray]) -> list[float]:
    out = []
    for a, b in zip(landmarks, landmarks[GAP:]):
        corners = [0, 1, 3, 4]  # eyes and mouth corners; index 2 is the nose
        h, _ = cv2.findHomography(a[corners].astype(np.float32), b[corners].astype(np.float32), 0)
        if h is None:
            continue
        nose = cv2.perspectiveTransform(a[2:3].astype(np.float32)[None], h)[0, 0]
        eye = float(np.linalg.norm(b[0] - b[1]))
        if eye > 0:
            out.append(float(np.linalg.norm(nose - b[2]) / eye))
    return out


def tracks_of(frames, pack, min_eye: float = 6.0) -> dict[int, list[np.ndarray]]:
    tracker = Tracker(0.3, 1.0)
    tracks: dict[int, list[np.ndarray]] = {}
    for i, frame in enumerate(frames):
        d = pack.detector.detect(frame)
        update = tracker.update(d, i / 30)
        for track, di in update.matched:
            lm = d.landmarks[di]
            if np.linalg.norm(lm[0] - lm[1]) >= min_eye:
                tracks.setdefault(track.id, []).append(lm)
    return tracks


def held_sheet(image: np.ndarray, frames: int = 90, seed: int = 0):
    """A flat sheet with `image` on it, tilted and moved by a hand (a smooth random homography path)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    phases = rng.uniform(0, 2 * np.pi, (4, 2))
    for i in range(frames):
        t = i / frames * 2 * np.pi
        wobble = 0.08 * np.sin(t + phases) * np.float32([w, h])
        dst = src + wobble.astype(np.float32) + np.float32([20 * np.sin(t), 10 * np.cos(t)])
        yield cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (w, h),
                                  borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    pack = open_pack(EdgeConfig())
    live = tracks_of(read_video(SHARED / "data" / "video" / "short_hamilton_clip.mp4"), pack)
    flat_sources = [*sorted((SHARED / "data" / "pad").glob("*.jpg")),
                    *sorted((SHARED / "data" / "video").glob("*.png"))]
    flat = {}
    for n, path in enumerate(flat_sources):
        image = cv2.imread(str(path))
        for tid, lms in tracks_of(held_sheet(image, seed=n), pack).items():
            flat[f"{path.name}#{tid}"] = lms

    rows = []
    print("| stream | track | frame pairs | median residual | 90th pct |")
    print("|---|---|---|---|---|")
    for label, group in (("live (Hamilton clip)", live), ("flat sheet (moved)", flat)):
        for tid, lms in group.items():
            r = residuals(lms)
            if len(r) < 5:
                continue
            rows.append((label.startswith("live"), float(np.median(r))))
            print(f"| {label} | {tid} | {len(r)} | {np.median(r):.3f} | {np.percentile(r, 90):.3f} |")
    is_live = np.array([r[0] for r in rows])
    score = np.array([r[1] for r in rows])
    print(f"\ntracks: {is_live.sum()} live, {(~is_live).sum()} flat; AUC of the median residual "
          f"(live vs flat): {auc(score, is_live):.3f}")


if __name__ == "__main__":
    main()
