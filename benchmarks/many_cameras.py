"""Cameras per node: the most cameras one machine keeps up with, FaceGate in one process against one process per
camera (today's way, the baseline).

    .venv/bin/python benchmarks/many_cameras.py [--seconds 16] [--max 32] [--fps 15]

Generated 1280x720 streams (MJPEG files) played in real time (`--realtime`, newest frame wins) at `--fps`:
cameras 1-4 watch gate lanes with a person walking up every 4 s; every other camera watches an empty entrance
with one passer. Each passer is an enrolled LFW person, seen in another photo than the enrolled one, and only
people whose two photos buffalo_s matches clearly take part (this measures the machine, not the model).

For each N on a ladder (1, 2, 4, 8, 12, 16, 20, 24, 28, 32, up to `--max`), N cameras run:
- **FaceGate**: one `facegate edge run --realtime --source ... (N times)`, with the motion gate (`[motion]`);
- **FaceGate, motion gate off**: the same, to tell the one process from the motion gate;
- **baseline**: N separate `facegate edge run --realtime --source ...` processes, as before issue 16 (no motion
  gate).
N passes when every camera keeps at least 95 % of its frames and every passer is granted. A ladder stops at its
first failure. Prints the largest N passing for each, and per trial: frames kept (worst camera), passers granted,
peak memory (sum over the processes), median time to decision (wall clock).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.eval.synthetic import portrait, scene_video  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from models.photos import Template, template_from_image  # noqa: E402

SHARED = REPO.parent / "shared"
LFW = SHARED / "data" / "faces" / "lfw-devtest"
WIDTH, HEIGHT = 1280, 720
LADDER = (1, 2, 4, 8, 12, 16, 20, 24, 28, 32)
GATE_LANES = 4
KEPT = 0.95
FEED_LINE = re.compile(r"(?P<camera>cam-\d+): (?P<frames>\d+) frames, \d+ verdicts; bad frames \d+, dropped "
                       r"(?P<dropped>\d+)")


@dataclass
class Trial:
    mode: str
    n: int
    kept: float  # the worst camera's share of frames kept
    granted: int
    passers: int
    peak_mb: float
    wall_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.kept >= KEPT and self.granted == self.passers and not self.errors


def clear_pairs(pack, config: EdgeConfig, wanted: int) -> list[tuple[str, Path, Path]]:
    """(subject, enrolment photo, photo seen) of LFW people whose two photos score >= 0.5 with each other."""
    found, seen = [], set()
    with (LFW / "pairs.csv").open() as f:
        for row in csv.DictReader(f):
            name = Path(row["img_a"]).parent.name
            if row["same"] != "1" or name in seen:
                continue
            seen.add(name)
            a, b = (template_from_image(cv2.imread(str(LFW / row[k])), pack, config.quality) for k in ("img_a", "img_b"))
            if isinstance(a, Template) and isinstance(b, Template) and float(a.embedding @ b.embedding) >= 0.5:
                found.append((name.lower().replace("_", "-")[:60], LFW / row["img_a"], LFW / row["img_b"]))
            if len(found) == wanted:
                break
    return found


def make_streams(workdir: Path, people, count: int, seconds: float, fps: float) -> list[tuple[Path, list[str]]]:
    """(stream, subjects passing in it) for `count` cameras."""
    streams, k = [], 0
    for i in range(count):
        scenes, subjects = [], []
        if i < GATE_LANES:  # a person walking up every 4 s
            for start in range(1, int(seconds) - 3, 4):
                subject, _, seen = people[k % len(people)]
                k += 1
                scenes.append((start, start + 2.5, portrait(seen, 480), 300 + 60 * (start % 3), 40))
                subjects.append(subject)
        else:  # an empty entrance with one passer
            subject, _, seen = people[(7 * i) % len(people)]
            start = 2 + (1.3 * i) % (seconds - 6)
            scenes.append((start, start + 2.5, portrait(seen, 480), 200 + 37 * (i % 11), 60))
            subjects.append(subject)
        streams.append((scene_video(workdir / f"cam-{i + 1}.avi", scenes, WIDTH, HEIGHT, fps, seconds, seed=i),
                        subjects))
    return streams


def peak_rss_mb(pids: list[int], stop: threading.Event, peaks: dict[int, float]) -> None:
    """Poll each process's resident memory until `stop`; keep each one's peak (VmHWM)."""
    while not stop.wait(0.5):
        for pid in pids:
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            hwm = re.search(r"VmHWM:\s+(\d+) kB", text)
            if hwm:
                peaks[pid] = max(peaks.get(pid, 0.0), int(hwm.group(1)) / 1024)


def run(mode: str, n: int, streams, gallery: Path, configs: dict[str, Path]) -> Trial:
    chosen = streams[:n]
    base = [sys.executable, "-m", "facegate", "edge", "run", "--realtime", "--gallery", str(gallery)]
    if mode == "baseline":
        commands = [base + ["--config", str(configs["off"]), "--source", str(s)] for s, _ in chosen]
    else:
        sources = [arg for s, _ in chosen for arg in ("--source", str(s))]
        commands = [base + ["--config", str(configs["on" if mode == "FaceGate" else "off"])] + sources]
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    stop, peaks = threading.Event(), {}
    watcher = threading.Thread(target=peak_rss_mb, args=([p.pid for p in processes], stop, peaks), daemon=True)
    watcher.start()
    outputs = [p.communicate() for p in processes]
    stop.set()
    watcher.join()
    kept, granted, passers, wall, errors = [], 0, 0, [], []
    for index, ((out, err), process) in enumerate(zip(outputs, processes)):
        if process.returncode != 0:
            errors.append(err.strip().splitlines()[-1] if err.strip() else f"exit {process.returncode}")
        verdicts = [json.loads(line) for line in out.splitlines()]
        for m in FEED_LINE.finditer(err):
            frames, dropped = int(m["frames"]), int(m["dropped"])
            kept.append(frames / max(frames + dropped, 1))
        # camera ids: cam-1..cam-N in one process; cam-1 in each baseline process
        for i, (_, subjects) in enumerate(chosen if mode != "baseline" else [chosen[index]]):
            camera = f"cam-{i + 1}"
            got = {v["subject"] for v in verdicts if v["camera"] == camera and v["verdict"] == "granted"}
            passers += len(subjects)
            granted += sum(1 for s in subjects if s in got)
        wall += [1000 * v["wall_time_to_decision_s"] for v in verdicts if v.get("wall_time_to_decision_s")]
    if len(kept) < n:
        errors.append(f"{n - len(kept)} camera(s) did not report")
    return Trial(mode, n, min(kept, default=0.0), granted, passers, sum(peaks.values()), wall, errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--max", type=int, default=32)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--modes", default="FaceGate,FaceGate motion off,baseline")
    args = parser.parse_args()
    config = EdgeConfig()
    config.models.search_paths = [SHARED / "models" / "yunet"]
    pack = open_pack(config)
    ladder = [n for n in LADDER if n <= args.max]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        people = clear_pairs(pack, config, 24)
        photos = workdir / "photos"
        photos.mkdir()
        for subject, enrolled, _ in people:
            (photos / f"{subject}{enrolled.suffix}").write_bytes(enrolled.read_bytes())
        configs = {}
        for name, motion in (("on", "true"), ("off", "false")):
            configs[name] = workdir / f"motion-{name}.toml"
            configs[name].write_text(f'[models]\nsearch_paths = ["{SHARED / "models" / "yunet"}"]\n'
                                     f'[motion]\nenabled = {motion}\n')
        gallery = workdir / "gallery.db"
        subprocess.run([sys.executable, "-m", "facegate", "gallery", "build", str(photos), "--out", str(gallery),
                        "--config", str(configs["off"])], check=True, capture_output=True)
        print(f"{len(people)} people; generating {ladder[-1]} streams of {args.seconds:.0f} s ...", flush=True)
        streams = make_streams(workdir, people, ladder[-1], args.seconds, args.fps)
        best: dict[str, int] = {}
        trials: list[Trial] = []
        print(f"\n{'mode':<22} {'N':>3} {'kept (worst)':>12} {'granted':>9} {'peak MB':>8} {'MB/camera':>9} "
              f"{'wall ms to decision (median)':>29}  result")
        for mode in args.modes.split(","):
            one = None
            for n in ladder:
                trial = run(mode, n, streams, gallery, configs)
                trials.append(trial)
                one = one or trial
                per_camera = (trial.peak_mb - one.peak_mb) / (n - 1) if n > 1 else trial.peak_mb
                wall = f"{statistics.median(trial.wall_ms):.0f}" if trial.wall_ms else "-"
                print(f"{mode:<22} {n:>3} {100 * trial.kept:>11.1f}% {trial.granted:>4}/{trial.passers:<4} "
                      f"{trial.peak_mb:>8.0f} {per_camera:>9.0f} {wall:>29}  "
                      f"{'pass' if trial.passed else 'FAIL ' + '; '.join(trial.errors)[:80]}", flush=True)
                if not trial.passed:
                    break
                best[mode] = n
        print("\nlargest N with every camera keeping >= 95 % of its frames and every passer granted:")
        for mode in args.modes.split(","):
            print(f"  {mode:<22} {best.get(mode, 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
