"""Time to decision: from the first frame in which a face passes the quality gate to the verdict, for people
walking up to a gate camera, FaceGate's policy against today's (the baseline) in the same run.

    .venv/bin/python benchmarks/time_to_decision.py [--people 20] [--fps 30] [--no-far]

A generated 960x540 stream played in real time at `--fps`: `--people` enrolled LFW people (a different photo of
each than the one enrolled; only pairs buffalo_s matches clearly) walk up one after another, each face small and
soft at first (90 px, blurred) and growing sharp as they approach (480 px over 2.5 s). Liveness on. Each policy
runs the same stream through a real gate node (edge/node/gate_node.py):
- **FaceGate**: the early decision and detection on every frame while a face is being decided (the defaults);
- **baseline**: today's policy -- always `frames_needed` (3) good frames, detection on every 2nd frame.
Prints median and p95 of the stream time and the wall time (frame reaching the loop -> verdict written) over
every verdict, and how many walkers were recognised. (The liveness model calls many of these pasted photos what
they are, photos: the verdict is then spoof_suspected, as quickly.) Then the per-comparison false-accept rate over every different-person pair of LFW
DevTest at the operating (0.36) and early (0.40) thresholds (`--no-far` skips it: it embeds ~2,000 images).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from edge.eval.pairs import embed_image  # noqa: E402
from edge.eval.synthetic import background, paste, portrait, write_video  # noqa: E402
from edge.node.gate_node import build_gate  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from edge.vision.gallery import GalleryIndex  # noqa: E402
from eval_pairs import all_pairs_far  # noqa: E402
from many_cameras import clear_pairs  # noqa: E402
from models.photos import template_from_image  # noqa: E402

SHARED = REPO.parent / "shared"
WIDTH, HEIGHT = 960, 540
APPROACH_S, GAP_S = 2.5, 1.0


def walking_up(path: Path, pictures: list[np.ndarray], fps: float) -> Path:
    """Each picture approaches the camera: from 90 px and blurred to 480 px and sharp, then leaves."""
    wall = background(WIDTH, HEIGHT, seed=5)
    period = APPROACH_S + GAP_S

    def frame(i: int) -> np.ndarray:
        t, image = i / fps, wall.copy()
        person, into = divmod(t, period)
        if into < APPROACH_S:
            progress = into / APPROACH_S
            size = round(90 + (480 - 90) * progress)
            picture = pictures[int(person)]
            scaled = cv2.resize(picture, (round(picture.shape[1] * size / picture.shape[0]), size),
                                interpolation=cv2.INTER_AREA)
            sigma = 2.5 * (1 - progress)
            if sigma > 0.3:
                scaled = cv2.GaussianBlur(scaled, (0, 0), sigma)
            x, y = WIDTH // 2 - scaled.shape[1] // 2, max(0, HEIGHT - 40 - size)
            paste(image, scaled[:HEIGHT - y], (x, y))
        return image
    return write_video(path, (frame(i) for i in range(int(len(pictures) * period * fps))), fps)


def run(config: EdgeConfig, pack, index: GalleryIndex, stream: Path) -> list[dict]:
    verdicts: list[dict] = []
    build_gate(config, [str(stream)], gallery=index, realtime=True, pack=pack).run(verdicts.append)
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--no-far", action="store_true")
    args = parser.parse_args()
    config = EdgeConfig()
    config.models.search_paths = [SHARED / "models" / "yunet", SHARED / "models" / "minifasnet"]
    pack = open_pack(config)
    people = clear_pairs(pack, config, args.people)
    templates = [template_from_image(cv2.imread(str(enrolled)), pack, config.quality).embedding
                 for _, enrolled, _ in people]
    index = GalleryIndex([subject for subject, _, _ in people], np.stack(templates))
    baseline = config.model_copy(deep=True)
    baseline.policy.early_decision = False
    baseline.tracker.detect_every_deciding = baseline.tracker.detect_every
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        stream = walking_up(Path(tmp) / "walking-up.avi", [portrait(seen, 480) for _, _, seen in people], args.fps)
        for name, cfg in (("FaceGate", config), ("baseline (always 3 frames, detect every 2nd)", baseline)):
            verdicts = run(cfg, pack, index, stream)
            rows[name] = verdicts
    print(f"\n{len(people)} people walking up at {args.fps:.0f} fps, liveness on; time to decision over every "
          f"verdict, 'recognised': the verdict names the walker (granted, or spoof_suspected matching them)\n")
    print(f"{'policy':<46} {'recognised':>10} {'stream median':>14} {'stream p95':>11} {'wall median':>12} "
          f"{'wall p95':>9} {'frames (median)':>16}  verdicts")
    subjects = {subject for subject, _, _ in people}
    for name, verdicts in rows.items():
        stream_ms = [1000 * v["time_to_decision_s"] for v in verdicts if v["time_to_decision_s"] is not None]
        wall_ms = [1000 * v["wall_time_to_decision_s"] for v in verdicts if v["wall_time_to_decision_s"] is not None]
        recognised = {v["subject"] for v in verdicts} & subjects
        mix = ", ".join(f"{k} {n}" for k, n in sorted(Counter(v["verdict"] for v in verdicts).items()))
        print(f"{name:<46} {len(recognised):>5}/{len(people):<4} {statistics.median(stream_ms):>14.0f} "
              f"{np.percentile(stream_ms, 95):>11.0f} {statistics.median(wall_ms):>12.0f} "
              f"{np.percentile(wall_ms, 95):>9.0f} {statistics.median(v['frames'] for v in verdicts):>16.0f}  {mix}")
    if not args.no_far:
        print("\n".join(all_pairs_far(lambda p: embed_image(p, pack), SHARED / "data" / "faces" / "lfw-devtest")))
        print("An early decision needs 0.40 where the operating threshold is 0.36: it adds no accepted pair.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
