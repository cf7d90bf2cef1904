"""Gate latency: from the frame in which a face first becomes usable to the relay switching, and an operator's
"open once" from the API to the relay, through Mosquitto.

    .venv/bin/python benchmarks/gate_latency.py [--people 20] [--fps 30] [--overrides 30]

1. Grants. A generated 960x540 stream played in real time (`--fps`): `--people` enrolled LFW people walk up one
   after another (a different photo of each than the one enrolled), liveness on, through a real gate node
   (edge/node/gate_node.py) with a relay door on a pseudo-terminal board (tests/door_standins.py). The frame in
   which each face first passes the quality gate is found beforehand on every frame (the loop itself detects
   on every 2nd); its wall time is when the camera delivered it. Measured to the relay switching on (the
   board's own clock) and, as the baseline in the same run, to the verdict (the verdict-only path: what
   FaceGate did before doors).
2. Overrides. A gateway and Mosquitto (tests/stack.py) and a gate device's real link, gate and relay: each
   override from the POST leaving the operator's client to the relay switching on.
Prints median and p95 of each.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from door_standins import GateDevice, RelayBoard  # noqa: E402
from edge.eval.synthetic import background, paste, portrait, write_video  # noqa: E402
from edge.node.gate_node import build_gate  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import (
    DoorSettings,  # noqa: E402
    EdgeConfig,  # noqa: E402
)
from edge.vision.camera import Camera  # noqa: E402
from edge.vision.gallery import GalleryIndex  # noqa: E402
from models.faces import gate_faces  # noqa: E402
from models.photos import template_from_image  # noqa: E402

SHARED = REPO.parent / "shared"
LFW = SHARED / "data" / "faces" / "lfw-devtest"
WIDTH, HEIGHT = 960, 540
SCENE_S, GAP_S = 1.5, 1.0


def people(n: int) -> list[tuple[str, Path, Path]]:
    """(subject, enrolment photo, photo seen at the gate) of `n` LFW people with two photos."""
    found, seen = [], set()
    with (LFW / "pairs.csv").open() as f:
        for row in csv.DictReader(f):
            name = Path(row["img_a"]).parent.name
            if row["same"] == "1" and name not in seen:
                seen.add(name)
                found.append((name.lower().replace("_", "-")[:60], LFW / row["img_a"], LFW / row["img_b"]))
    return found[:n]


def scene_frames(pictures: list[np.ndarray], fps: float):
    wall = background(WIDTH, HEIGHT)
    period = SCENE_S + GAP_S
    for i in range(int(len(pictures) * period * fps + GAP_S * fps)):
        t, frame = i / fps, wall.copy()
        k, into = divmod(t - GAP_S, period)
        if t >= GAP_S and into < SCENE_S:
            paste(frame, pictures[int(k)], (240 + round(2 * np.sin(i)), 30 + round(2 * np.cos(i))))
        yield frame


def first_usable(stream: Path, pack, config: EdgeConfig, scenes: int, fps: float) -> list[float]:
    """Stream time of the first frame of each scene whose face passes the quality gate."""
    found = [None] * scenes
    with Camera(str(stream), config.camera) as camera:
        for frame in camera.frames():
            k, into = divmod(frame.timestamp - GAP_S, SCENE_S + GAP_S)
            if frame.timestamp < GAP_S or into >= SCENE_S or found[int(k)] is not None:
                continue
            d = pack.detector.detect(frame.image)
            if any(face.usable for face in gate_faces(frame.image, d, range(len(d)), config.quality)):
                found[int(k)] = frame.timestamp
    return found


def grants(args, workdir: Path) -> dict[str, list[float]]:
    config = EdgeConfig()
    config.models.dir = workdir / "models"
    config.models.search_paths = [SHARED / "models" / "yunet", SHARED / "models" / "minifasnet"]
    pack = open_pack(config)
    chosen = people(args.people)
    templates, names, pictures = [], [], []
    for subject, enrol, seen in chosen:
        t = template_from_image(cv2.imread(str(enrol)), pack, config.quality)
        if not isinstance(t, str):  # a reason: this photo cannot be enrolled
            names.append(subject)
            templates.append(t.embedding)
            pictures.append(portrait(seen, 480))
    stream = write_video(workdir / "gate.avi", scene_frames(pictures, args.fps), args.fps)
    usable = first_usable(stream, pack, config, len(pictures), args.fps)

    board = RelayBoard()
    config.doors = [DoorSettings(kind="serial", port=board.path, pulse_ms=300)]
    node = build_gate(config, [str(stream)], gallery=GalleryIndex(names, np.stack(templates)), realtime=True,
                      pack=pack)
    pipeline = node.feeds[0].pipeline
    verdict_at: dict[str, float] = {}
    arrival: list[float] = []

    def emit(record: dict) -> None:
        if record["verdict"] == "granted":
            verdict_at.setdefault(record["subject"], time.monotonic())

    original = pipeline.process

    def process(frame):  # the wall clock of the stream: when frame 0 arrived
        if not arrival:
            arrival.append(time.monotonic() - frame.timestamp)
        return original(frame)
    pipeline.process = process
    node.run(emit)
    time.sleep(1.0)
    node.close()
    board.close()

    opened = [at for at, _, on in board.switched if on]
    opened_for = [r.request.subject for r in node.gate.reports if r.outcome == "opened"]
    relay, verdict, missed = [], [], 0
    for k, subject in enumerate(names):
        if usable[k] is None or subject not in verdict_at or subject not in opened_for:
            missed += 1
            continue
        seen_at = arrival[0] + usable[k]
        verdict.append(1000 * (verdict_at[subject] - seen_at))
        relay.append(1000 * (opened[opened_for.index(subject)] - seen_at))
    print(f"grants: {len(names)} people walked up, {len(relay)} opened the door, {missed} did not "
          f"(no usable face, liveness or no match); frames dropped by the real-time camera: "
          f"{node.feeds[0].camera.stats.frames_dropped}")
    return {"face usable -> verdict (baseline: verdict only)": verdict, "face usable -> relay on": relay}


def overrides(args, workdir: Path) -> dict[str, list[float]]:
    from stack import Stack, wait_for

    stack = Stack.create(workdir / "stack")
    try:
        stack.add_device("gate-bench", "site-a")
        device = GateDevice(stack.devices["gate-bench"], workdir, lanes=(1,))
        wait_for(lambda: (stack.store.devices.get("gate-bench").last_heartbeat or {}).get("doors"), 10, "lanes")
        stack.token("operator")
        took = []
        for n in range(args.overrides):
            before = len(device.board.switched)
            sent = time.monotonic()
            r = stack.post("/api/devices/gate-bench/doors/1/open", {"reason": f"benchmark {n}"}, role="operator")
            assert r.status_code == 202, r.text
            wait_for(lambda: any(on for _, _, on in device.board.switched[before:]), 5, "the stand-in")
            took.append(1000 * (next(at for at, _, on in device.board.switched[before:] if on) - sent))
            time.sleep(0.4)  # the pulse ends before the next
        device.close()
        return {"override: API -> broker -> relay on": took}
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--overrides", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = grants(args, Path(tmp)) | overrides(args, Path(tmp))
    print(f"\n{'path':<48} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    for name, values in rows.items():
        if values:
            p95 = float(np.percentile(values, 95))
            print(f"{name:<48} {len(values):>4} {statistics.median(values):>10.0f} {p95:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
