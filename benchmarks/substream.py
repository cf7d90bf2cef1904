"""What a detection sub-stream saves: CPU per frame of one gate camera, main stream only (the baseline) against
main stream plus sub-stream, with the motion gate off and on, in the same run.

    .venv/bin/python benchmarks/substream.py [--seconds 40] [--runs 3] [--main 1280x720]

A generated gate scene (`--main`, 1280x720 by default) at 15 fps, MPEG-4 part 2 (an inter-frame codec as a
camera's H.264 is: every frame must be decoded, so the main stream is decoded either way), and its 640-pixel-wide
sub-stream (a camera's usual one) made from the same frames. Enrolled LFW people stand before the camera for 2 s each, one every 10 s; the rest of the time the scene
is empty, as most of a gate camera's day is. Each mode runs the file as fast as it goes through a real gate node
(edge/node/gate_node.py, liveness on) and reports the process's CPU time per frame (every thread: decoding,
conversion, motion gate, detection, embedding), the frames whose main image was never converted, the detections
run on the sub-stream, and whether every person was granted. Median of `--runs`. Inference on one thread, as
on a node with several cameras (a thread pool's spinning would count as CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from edge.eval.synthetic import portrait, read_video, scene_video, write_video  # noqa: E402
from edge.node.gate_node import build_gate  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from edge.vision.gallery import GalleryIndex  # noqa: E402
from many_cameras import clear_pairs  # noqa: E402
from models.photos import template_from_image  # noqa: E402

FPS, SUB_WIDTH = 15.0, 640
EVERY_S, STAY_S = 10.0, 2.0


def streams(workdir: Path, people, seconds: float, width: int, height: int) -> tuple[Path, Path]:
    """The main stream and its 640-wide sub-stream (the same frames, scaled), MPEG-4."""
    face = height // 2
    scenes = [(1.0 + EVERY_S * n, 1.0 + EVERY_S * n + STAY_S, portrait(seen, face), width // 3 + 60 * (n % 5),
               height // 6) for n, (_, _, seen) in enumerate(people)]
    main = scene_video(workdir / "main.mp4", scenes, width, height, FPS, seconds, seed=3)
    size = (SUB_WIDTH, round(SUB_WIDTH * height / width))
    sub = write_video(workdir / "sub.mp4", (cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                                            for f in read_video(main)), FPS)
    return main, sub


def run(config: EdgeConfig, pack, index, main: Path, sub: Path | None, motion: bool) -> dict:
    config = config.model_copy(update={"motion": config.motion.model_copy(update={"enabled": motion})})
    camera = config.camera.model_copy(update={"source": str(main), "substream": str(sub) if sub else None})
    node = build_gate(config, gallery=index, pack=pack, cameras=[camera])
    feed = node.feeds[0]
    verdicts: list[dict] = []
    cpu, wall = time.process_time(), time.perf_counter()
    node.run(verdicts.append)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    frames = feed.pipeline.stats.frames
    return {"cpu_ms": 1000 * cpu / frames, "wall_ms": 1000 * wall / frames, "frames": frames,
            "not_converted": feed.camera.stats.main_skipped, "sub_detected": feed.pipeline.stats.sub_detected,
            "granted": sorted(v["subject"] for v in verdicts if v["verdict"] == "granted")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--main", default="1280x720", help="the main stream's size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = map(int, args.main.lower().split("x"))
    config = EdgeConfig()
    config = config.model_copy(update={"models": config.models.model_copy(update={"threads": 1})})
    pack = open_pack(config)
    people = clear_pairs(pack, config, int(args.seconds // EVERY_S))
    templates = [template_from_image(cv2.imread(str(enrolled)), pack, config.quality).embedding
                 for _, enrolled, _ in people]  # clear_pairs kept only people whose photos give templates
    index = GalleryIndex([subject for subject, _, _ in people], np.stack(templates))
    expected = sorted(subject for subject, _, _ in people)
    modes = [("main stream only (baseline)", False, False), ("main + sub-stream", True, False),
             ("main only, motion gate", False, True), ("main + sub-stream, motion gate", True, True)]
    with tempfile.TemporaryDirectory() as tmp:
        main_path, sub_path = streams(Path(tmp), people, args.seconds, width, height)
        results = {name: [] for name, *_ in modes}
        for _ in range(args.runs):
            for name, with_sub, motion in modes:
                results[name].append(run(config, pack, index, main_path, sub_path if with_sub else None, motion))
    print(f"\n{width}x{height} @ {FPS:.0f} fps, {args.seconds:.0f} s, {len(people)} people for {STAY_S:.0f} s each; "
          f"sub-stream {SUB_WIDTH} wide; median of {args.runs} runs; CPU per frame = every thread of the process\n")
    print("| mode | CPU ms / frame | wall ms / frame | main frames not converted | detections on the sub-stream "
          "| granted |")
    print("|---|---|---|---|---|---|")
    base = statistics.median(r["cpu_ms"] for r in results[modes[0][0]])
    for name, *_ in modes:
        rs = results[name]
        cpu = statistics.median(r["cpu_ms"] for r in rs)
        granted = min(sum(s in r["granted"] for s in expected) for r in rs)
        print(f"| {name} | {cpu:.2f} ({cpu / base:.2f}x) | {statistics.median(r['wall_ms'] for r in rs):.2f} | "
              f"{rs[0]['not_converted']} of {rs[0]['frames']} | {rs[0]['sub_detected']} | "
              f"{granted} of {len(expected)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
