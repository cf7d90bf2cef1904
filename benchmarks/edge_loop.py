"""Edge loop speed: FaceGate's pipeline against insightface FaceAnalysis, same model files.

    .venv/bin/python benchmarks/edge_loop.py [--seconds 10] [--skip-search]

Streams: 1280x720 with 1 face and with 6 faces (real faces from insightface's
t1.jpg and ../shared/data/video), and ../shared/data/video/short_hamilton_clip.mp4.
Both sides decode the same file. FaceAnalysis runs on every frame (det_size 640),
then a 1:N match of each face. Prints frames/s, per-stage ms and the ratio, the
edge process's peak RSS, and 1:N search time for 1k..1M templates.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from baseline import face_analysis  # noqa: E402
from edge.eval.synthetic import Walker, face_patch, render, write_video  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from edge.vision.camera import Camera  # noqa: E402
from edge.vision.gallery import GalleryIndex, GalleryStore  # noqa: E402
from edge.vision.pipeline import STAGES, FacePipeline  # noqa: E402

SHARED = REPO.parent / "shared"
W, H, FPS = 1280, 720, 25.0


def t1_image() -> np.ndarray:
    return cv2.imread(str(importlib.metadata.distribution("insightface").locate_file("insightface/data/images/t1.jpg")))


def build_streams(pack, workdir: Path, seconds: float) -> dict[str, tuple[Path, list[np.ndarray]]]:
    """name -> (video file, enrolment photos of the people in it)."""
    streams = {}
    lin = cv2.imread(str(SHARED / "data" / "video" / "lin-manuel-miranda.png"))
    det = pack.detector.detect(lin)
    patch = face_patch(lin, det.boxes[0], height=300)
    one = [Walker(patch, 0.0, seconds + 1, y=200, x_from=300, x_to=700)]
    streams["720p, 1 face"] = (write_video(workdir / "one.avi", render(one, W, H, FPS, seconds), FPS), [lin])

    t1 = t1_image()
    det = pack.detector.detect(t1)
    six, photos = [], []
    for n, i in enumerate(np.argsort(det.boxes[:, 0])):
        p = face_patch(t1, det.boxes[i], height=200)
        col, row = n % 3, n // 3
        six.append(Walker(p, 0.0, seconds + 1, y=60 + row * 330, x_from=60 + col * 400, x_to=160 + col * 400))
        photos.append(face_patch(t1, det.boxes[i], height=400, margin=0.8))
    streams["720p, 6 faces"] = (write_video(workdir / "six.avi", render(six, W, H, FPS, seconds), FPS), photos)

    clip = SHARED / "data" / "video" / "short_hamilton_clip.mp4"
    streams["hamilton 360p"] = (clip, [cv2.imread(str(SHARED / "data" / "video" / f"{n}.png"))
                                       for n in ("alex-lacamoire", "lin-manuel-miranda")])
    return streams


def gallery_for(pack, photos: list[np.ndarray]) -> GalleryIndex:
    from models.photos import Template, template_from_image

    store = GalleryStore(None)
    for i, photo in enumerate(photos):
        t = template_from_image(photo, pack, EdgeConfig().quality)
        if isinstance(t, Template):
            store.add(f"person-{i}", pack.name, t.embedding)
    return GalleryIndex.from_store(store, pack.name)


def run_facegate(pack, index: GalleryIndex, video: Path) -> tuple[float, dict[str, float], int]:
    pipeline = FacePipeline(pack, index, EdgeConfig())
    start = time.perf_counter()
    for frame in Camera(str(video)).frames():
        pipeline.timer.add("decode", frame.decode_s)
        pipeline.process(frame)
    pipeline.finish(0.0)
    wall = time.perf_counter() - start
    return pipeline.stats.frames / wall, pipeline.timer.per_frame_ms(), pipeline.stats.frames


def run_face_analysis(app, index: GalleryIndex, video: Path) -> tuple[float, dict[str, float], int]:
    cap = cv2.VideoCapture(str(video))
    totals = {"decode": 0.0, "detect+embed": 0.0, "match": 0.0}
    frames = 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, image = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        faces = app.get(image)
        t2 = time.perf_counter()
        for face in faces:
            index.search(face.normed_embedding.astype(np.float32), k=2)
        t3 = time.perf_counter()
        totals["decode"] += t1 - t0
        totals["detect+embed"] += t2 - t1
        totals["match"] += t3 - t2
        frames += 1
    wall = time.perf_counter() - start
    return frames / wall, {k: 1000 * v / frames for k, v in totals.items()}, frames


def edge_process_rss(video: Path, photos_dir: Path) -> float:
    """Peak RSS (MB) of a real `facegate edge run` process on `video`."""
    subprocess.run([sys.executable, "-m", "facegate", "edge", "run", "--source", str(video), "--gallery",
                    str(photos_dir)], cwd=REPO, capture_output=True, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def search_table(sizes: list[int], probes: int = 200) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        templates = rng.standard_normal((n, 512), dtype=np.float32)
        templates /= np.linalg.norm(templates, axis=1, keepdims=True)
        subjects = [f"s{i}" for i in range(n)]
        index = GalleryIndex(subjects, templates)
        queries = templates[rng.choice(n, probes)] + 0.04 * rng.standard_normal((probes, 512), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        timings = {}
        for name, fn in {"numpy exact": lambda q: int(np.argmax(templates @ q)),
                         "GalleryIndex": lambda q: index.search(q, k=2)}.items():
            fn(queries[0])
            samples = []
            for q in queries:
                t = time.perf_counter()
                fn(q)
                samples.append(time.perf_counter() - t)
            timings[name] = 1000 * float(np.median(samples))
        rows.append((n, timings["numpy exact"], timings["GalleryIndex"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--search-sizes", default="1000,10000,100000,1000000")
    args = parser.parse_args()

    config = EdgeConfig()
    pack = open_pack(config)
    app = face_analysis()
    work = Path(tempfile.mkdtemp(prefix="facegate-bench-"))
    streams = build_streams(pack, work, args.seconds)

    print(f"\nEdge loop, {len(__import__('os').sched_getaffinity(0))} CPU cores, pack buffalo_s "
          f"(detector max side {config.models.detector_max_side}, detect every "
          f"{config.tracker.detect_every} frames); baseline: FaceAnalysis det_size 640 on every frame\n")
    print(f"| stream | frames | FaceAnalysis fps | FaceGate fps | ratio | FaceGate ms/frame ({', '.join(STAGES)}) "
          f"| FaceAnalysis ms/frame (decode, detect+embed, match) |")
    print("|---|---|---|---|---|---|---|")
    for name, (video, photos) in streams.items():
        index = gallery_for(pack, photos)
        ours_fps, ours_ms, frames = run_facegate(pack, index, video)
        base_fps, base_ms, _ = run_face_analysis(app, index, video)
        ours = " / ".join(f"{ours_ms[s]:.2f}" for s in STAGES)
        base = " / ".join(f"{v:.2f}" for v in base_ms.values())
        print(f"| {name} | {frames} | {base_fps:.1f} | {ours_fps:.1f} | **{ours_fps / base_fps:.1f}x** | {ours} | {base} |")

    photos_dir = work / "six-photos"
    photos_dir.mkdir()
    for i, photo in enumerate(streams["720p, 6 faces"][1]):
        cv2.imwrite(str(photos_dir / f"person-{i}.jpg"), photo)
    print(f"\nPeak RSS of `facegate edge run` on the 6-face stream: "
          f"{edge_process_rss(streams['720p, 6 faces'][0], photos_dir):.0f} MB")

    if not args.skip_search:
        print("\n1:N search, median ms per probe (512-d templates, top-2 distinct subjects)\n")
        print("| templates | numpy exact (argmax only) | GalleryIndex.search |")
        print("|---|---|---|")
        for n, exact, ours in search_table([int(s) for s in args.search_sizes.split(",")]):
            print(f"| {n:,} | {exact:.3f} | {ours:.3f} |")


if __name__ == "__main__":
    main()
