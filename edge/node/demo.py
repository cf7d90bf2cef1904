"""`make demo` / `facegate demo`: the edge loop on a generated gate stream.

Everything comes from installed packages: the six faces of insightface's bundled
sample photo t1.jpg. Four are enrolled as consenting people; all six walk past
the gate camera, so the demo shows four `granted` and two `unknown` verdicts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge.eval.synthetic import Walker, face_patch, render, write_video
from edge.node.gate_node import build_gate
from edge.node.packs import open_pack
from edge.node.runner import StatusLine, print_json_line
from edge.settings import EdgeConfig, load_config
from edge.vision.enrolment import build_gallery
from edge.vision.gallery import GalleryStore
from models import LoadedPack
from models.photos import read_image

log = logging.getLogger(__name__)

ENROLLED = 4
# The demo's people are photos pasted into a generated stream: liveness would (rightly) call every one an attack.
NO_LIVENESS = ("liveness is OFF for the demo: its people are photos pasted into a generated stream, which "
               "presentation-attack detection rightly rejects; `facegate edge run` on a real camera runs with it")
WIDTH, HEIGHT, FPS = 1280, 720, 25.0


def sample_photo() -> Path:
    """insightface's bundled group photo (six faces)."""
    import importlib.metadata

    path = Path(importlib.metadata.distribution("insightface").locate_file("insightface/data/images/t1.jpg"))
    if not path.is_file():
        raise FileNotFoundError(f"sample photo {path} missing: reinstall insightface")
    return path


def prepare(workdir: Path, pack: LoadedPack, config: EdgeConfig) -> tuple[Path, Path]:
    """Write the demo's enrolment photos, gallery and stream under `workdir`."""
    image = read_image(sample_photo())
    detections = pack.detector.detect(image)
    order = np.argsort(detections.boxes[:, 0])  # left to right, so names are stable
    photos = workdir / "enrol"
    photos.mkdir(parents=True, exist_ok=True)
    walkers = []
    for n, i in enumerate(order, start=1):
        patch = face_patch(image, detections.boxes[i], height=260)
        if n <= ENROLLED:
            cv2.imwrite(str(photos / f"Person-{n}.jpg"), face_patch(image, detections.boxes[i], height=400, margin=0.8))
        # Two people at a time, one from each side, a new pair every 4 s.
        pair, side = divmod(n - 1, 2)
        enter = 0.5 + pair * 4.0
        x_from, x_to = (-patch.shape[1], WIDTH // 2 - patch.shape[1]) if side == 0 else (WIDTH, WIDTH // 2 + 40)
        walkers.append(Walker(patch, enter, enter + 3.5, y=180 + 80 * side, x_from=x_from, x_to=x_to))
    gallery = workdir / "gallery.db"
    gallery.unlink(missing_ok=True)
    results = build_gallery(photos, GalleryStore(gallery), pack, config.quality)
    for r in results:
        log.info("enrol %s", r.line())
    stream = write_video(workdir / "gate-stream.avi", render(walkers, WIDTH, HEIGHT, FPS, 13.0), FPS)
    return gallery, stream


def run_demo(workdir: Path, realtime: bool = True) -> int:
    """Prepare the demo (fresh each run) and run the gate loop over it."""
    config = load_config(None)
    config.liveness.enabled = False  # NO_LIVENESS, said out loud below
    pack = open_pack(config)
    gallery, stream = prepare(workdir, pack, config)
    node = build_gate(config, [str(stream)], gallery=gallery, realtime=realtime, pack=pack)
    log.info("demo gallery: %d enrolled people; stream %s (%dx%d, %.0f fps)",
             node.index.subject_count, stream, WIDTH, HEIGHT, FPS)
    log.warning(NO_LIVENESS)
    try:
        summary = node.run(print_json_line, status=StatusLine())
    finally:
        node.close()
    rejected = ", ".join(f"{k} x{v}" for k, v in node.feeds[0].pipeline.stats.rejected.items()) or "none"
    log.info("demo done: %d frames at %.1f fps, %d verdicts for %d people passing (%d enrolled); "
             "faces the quality gate kept from matching: %s",
             summary.frames, summary.fps, summary.verdicts, 6, ENROLLED, rejected)
    return 0
