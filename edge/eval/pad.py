"""Presentation-attack detection measured as ISO/IEC 30107-3 reports it.

- APCER (per attack type): share of attack presentations of that type accepted as live;
- BPCER: share of bona fide (live) presentations rejected as attacks;
both at the chosen threshold. Labels CSV: `img,label,attack` with label `live`
or `spoof`, attack naming the species (printed photo, screen replay, ...).
A presentation in which no face is found is counted apart (it can neither
pass nor be rejected by liveness) and reported.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.vision.liveness import LivenessChecker
from models import LoadedPack


@dataclass
class Presentation:
    image: Path
    live: bool
    attack: str  # "" for bona fide


def read_labels(path: Path) -> list[Presentation]:
    rows = []
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"img", "label"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: needs columns img,label[,attack]")
        for n, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip().lower()
            if label not in ("live", "spoof"):
                raise ValueError(f"{path}:{n}: label must be live or spoof, not {label!r}")
            attack = (row.get("attack") or "").strip() or ("" if label == "live" else "unspecified")
            rows.append(Presentation(Path(path).parent / row["img"], label == "live", attack))
    return rows


def live_score(image_path: Path, pack: LoadedPack, liveness: LivenessChecker) -> float | None:
    """Live score of the largest face in the image; None if there is no face (or no image)."""
    image = cv2.imread(str(image_path))
    if image is None:
        return None
    d = pack.detector.detect(image)
    if len(d) == 0:
        return None
    i = int(np.argmax((d.boxes[:, 2] - d.boxes[:, 0]) * (d.boxes[:, 3] - d.boxes[:, 1])))
    return float(liveness.scores(image, d.boxes[i:i + 1])[0])


def pad_metrics(presentations: list[Presentation], score: Callable[[Path], float | None], threshold: float,
                progress: Callable[[int, int], None] | None = None) -> dict:
    accepted, total, no_face = defaultdict(int), defaultdict(int), defaultdict(int)
    for n, p in enumerate(presentations, start=1):
        kind = "bona fide" if p.live else p.attack
        s = score(p.image)
        total[kind] += 1
        if s is None:
            no_face[kind] += 1
        elif s >= threshold:
            accepted[kind] += 1
        if progress:
            progress(n, len(presentations))
    attacks = {k for k in total if k != "bona fide"}
    scored = {k: total[k] - no_face[k] for k in total}
    apcer = {k: (accepted[k] / scored[k] if scored[k] else None) for k in sorted(attacks)}
    live = scored.get("bona fide", 0)
    bpcer = (live - accepted["bona fide"]) / live if live else None
    return {"threshold": threshold, "apcer": apcer, "bpcer": bpcer,
            "presentations": dict(total), "no_face": dict(no_face),
            "apcer_max": max((v for v in apcer.values() if v is not None), default=None)}
