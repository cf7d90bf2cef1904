"""Exam supervision: how fast each flag is raised, and how often one is raised for nothing.

    .venv/bin/python benchmarks/exam_supervision.py [--clean-minutes 10]

Streams are generated from real face photos (../shared/data/faces/celebrities:
each candidate is enrolled from one photo and seen through another photo of the
same person): a session with an impersonation (at a different moment of the
re-verification cycle for each candidate), an absence of 60 s, and a second
face for 10 s; then clean sessions: the candidate alone, with what happens in
a real room and must not be flagged -- a hand passing before the face for half a
second every 45 s, and someone walking past behind for a second every 2 minutes.
FaceGate's debounced settings against a baseline that flags on the first bad
observation (one failed check, one frame with two faces, no grace for absence).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.eval.synthetic import Sitter, desk_frames, face_patch  # noqa: E402
from edge.exam.station import ExamStation  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig, ExamSettings  # noqa: E402
from edge.vision.camera import Frame  # noqa: E402
from edge.vision.gallery import GalleryIndex  # noqa: E402
from models.photos import template_from_image  # noqa: E402

CELEBS = REPO.parent / "shared" / "data" / "faces" / "celebrities"
# (enrolment photo, photo seen at the desk) of the same person, and an impostor for each.
CANDIDATES = [("img2.jpg", "img1.jpg", "img3.jpg"), ("img12.jpg", "img3.jpg", "img16.jpg"),
              ("img17.jpg", "img16.jpg", "img20.jpg"), ("img21.jpg", "img20.jpg", "img24.jpg"),
              ("img25.jpg", "img24.jpg", "img1.jpg")]
FPS = 4.0
T0 = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)


class Raised:
    def __init__(self):
        self.first: dict[str, datetime] = {}
        self.kinds: dict[str, str] = {}
        self.now = T0

    def session_changed(self, s):
        pass

    def flag_changed(self, s, flag):
        self.first.setdefault(flag.id, self.now)
        self.kinds[flag.id] = flag.kind

    def evidence(self, s, reason, image, face):
        return []


def run(station: ExamStation, gallery: GalleryIndex, sitters: list[Sitter], seconds: float) -> Raised:
    raised = Raised()
    supervisor = station.supervisor("bench", "cand", gallery, raised)
    seen = None
    for t, image in desk_frames(sitters, seconds, FPS):
        raised.now = T0 + timedelta(seconds=t)
        seen = station.see(Frame(int(t * FPS), t, image), raised.now)
        supervisor.observe(seen)
    supervisor.end(seen, T0 + timedelta(seconds=seconds))
    return raised


def first_delay(raised: Raised, kind: str, since_s: float) -> float | None:
    times = [(at - T0).total_seconds() - since_s for fid, at in raised.first.items()
             if raised.kinds[fid] == kind and (at - T0).total_seconds() >= since_s]
    return min(times) if times else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clean-minutes", type=float, default=10.0, help="clean footage per candidate")
    args = parser.parse_args()
    config = EdgeConfig()
    pack = open_pack(config)

    def patch(name: str, height: int = 220):
        image = cv2.imread(str(CELEBS / name))
        d = pack.detector.detect(image)
        return face_patch(image, d.boxes[int(np.argmax(d.scores))], height)

    variants = {
        "FaceGate (debounced)": config.exam,
        "baseline: first bad observation": ExamSettings(mismatch_checks=1, multiple_faces_s=0.0, no_face_grace_s=0.0,
                                                        blocked_s=0.0, low_quality_s=0.0, recheck_after_s=0.5),
    }
    delays = {name: {"face_mismatch": [], "no_face": [], "multiple_faces": []} for name in variants}
    false_flags = {name: 0 for name in variants}
    clean_hours = 0.0
    for n, (enrol, seen_photo, impostor) in enumerate(CANDIDATES):
        switch = 47.0 + 4 * n  # spread over the 20 s re-verification cycle
        template = template_from_image(cv2.imread(str(CELEBS / enrol)), pack, config.quality)
        gallery = GalleryIndex(["cand"], template.embedding[None])
        me, other = patch(seen_photo), patch(impostor)
        guest = patch(impostor, 180)
        for name, settings in variants.items():
            station = ExamStation(pack, config.quality, settings, None)
            r = run(station, gallery, [Sitter(me, 0, switch, 220, 120), Sitter(other, switch, 130, 220, 120)], 130)
            delays[name]["face_mismatch"].append(first_delay(r, "face_mismatch", switch))
            r = run(station, gallery, [Sitter(me, 0, 30, 220, 120), Sitter(me, 90, 120, 220, 120)], 120)
            delays[name]["no_face"].append(first_delay(r, "no_face", 30))
            r = run(station, gallery, [Sitter(me, 0, 60, 220, 120), Sitter(guest, 30, 40, 450, 200)], 60)
            delays[name]["multiple_faces"].append(first_delay(r, "multiple_faces", 30))
            seconds = args.clean_minutes * 60
            hand = np.full((260, 260, 3), (110, 140, 190), np.uint8)  # a hand before the face
            room = [Sitter(me, 0, seconds, 220, 120)]
            room += [Sitter(hand, t, t + 0.5, 200, 100) for t in np.arange(45, seconds, 45)]
            room += [Sitter(guest, t, t + 1.0, 470, 220) for t in np.arange(100, seconds, 120)]
            r = run(station, gallery, room, seconds)
            false_flags[name] += len(r.first)
        clean_hours += args.clean_minutes / 60
        print(f"  done: candidate {seen_photo}", file=sys.stderr)

    print(f"\nExam supervision on generated desk streams of {len(CANDIDATES)} real people "
          f"({FPS:.0f} fps; re-verification every {config.exam.reverify_interval_s:.0f} s)\n")
    print("| settings | face_mismatch delay s (mean / max) | no_face delay s | multiple_faces delay s "
          "| missed | false flags per hour of clean footage |")
    print("|---|---|---|---|---|---|")
    for name in variants:
        cells, missed = [], 0
        for kind in ("face_mismatch", "no_face", "multiple_faces"):
            found = [d for d in delays[name][kind] if d is not None]
            missed += len(delays[name][kind]) - len(found)
            cells.append(f"{statistics.mean(found):.1f} / {max(found):.1f}" if found else "never")
        print(f"| {name} | " + " | ".join(cells) + f" | {missed} | {false_flags[name] / clean_hours:.1f} |")
    print(f"\nclean footage: {clean_hours * 60:.0f} minutes per settings")


if __name__ == "__main__":
    main()
