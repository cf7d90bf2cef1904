"""The motion gate (issue 16): it skips the detector only where nothing has changed, and never on a frame in which a
new face appears -- checked against the detector run on every frame of the Hamilton clip and a generated stream."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import CLIP, DATA
from edge.vision.camera import Frame
from edge.vision.gallery import GalleryIndex
from edge.vision.motion import MotionGate, RegionError
from edge.settings import MotionSettings
from edge.vision.pipeline import FacePipeline
from edge.eval.synthetic import background, paste, portrait, read_video
from models.photos import template_from_image

LFW = DATA / "faces" / "lfw-devtest" / "images"
PASSER = LFW / "Abdullah_Gul" / "Abdullah_Gul_0014.jpg"
ON = MotionSettings(enabled=True)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def passer_stream(seconds: float = 8.0, fps: float = 15.0):
    """An empty entrance with sensor noise; a person walks in from the left at 2 s, stands, leaves at 6 s."""
    wall, face = background(960, 540), portrait(PASSER, 300)
    rng = np.random.default_rng(1)
    for i in range(int(seconds * fps)):
        t = i / fps
        image = wall.copy()
        if 2.0 <= t < 6.0:
            x = min(330, round(-300 + 400 * (t - 2.0)))
            paste(image, face, (x, 120))
        noise = rng.normal(0, 3, image.shape)  # a real sensor's grain: not motion
        yield np.clip(image + noise, 0, 255).astype(np.uint8)


def skipped_new_faces(pack, frames) -> tuple[int, int, list[int]]:
    """Run the gate as the pipeline does (the detector looks when the gate says so or someone is in view) beside
    the detector on every frame; (frames, frames skipped, frames skipped although a new face was in them)."""
    gate = MotionGate(ON)
    reference: np.ndarray = np.zeros((0, 4))
    count, missed = 0, []
    for n, image in enumerate(frames):
        count += 1
        truth = pack.detector.detect(image).boxes
        if gate.changed(image) or len(reference):
            gate.detected()
            reference = truth
            continue
        new = [box for box in truth if all(iou(box, old) < 0.3 for old in reference)]
        if new:
            missed.append(n)
    return count, gate.skipped, missed


@pytest.mark.parametrize("stream", ["hamilton", "passer"])
def test_the_gate_never_skips_a_frame_in_which_a_new_face_appears(pack, stream):
    frames = read_video(CLIP) if stream == "hamilton" else passer_stream()
    count, skipped, missed = skipped_new_faces(pack, frames)
    assert missed == [], f"frames {missed} were skipped with a new face in them"
    if stream == "passer":  # the empty entrance before and after the passer is not detected again and again
        assert skipped > count / 3, (skipped, count)


def test_a_region_of_interest_outside_the_frame_is_refused_in_plain_words():
    gate = MotionGate(ON, roi=(900, 0, 200, 100))
    with pytest.raises(RegionError, match="region of interest 900,0 200x100 lies outside the 960x540 frame"):
        gate.changed(np.zeros((540, 960, 3), np.uint8))


def test_only_the_region_of_interest_counts(pack):
    gate = MotionGate(ON, roi=(0, 0, 480, 540))  # the left half: the lane; the right half is a street
    still = np.full((540, 960, 3), 120, np.uint8)
    assert gate.changed(still)
    gate.detected()
    street = still.copy()
    street[200:300, 700:800] = 30  # a car passing on the right
    assert not gate.changed(street)
    lane = still.copy()
    lane[200:300, 100:200] = 30
    assert gate.changed(lane)


def test_the_pipeline_with_the_gate_grants_the_passer_as_without_it_and_says_what_it_saved(pack, config):
    enrolled = template_from_image(cv2.imread(str(LFW / "Abdullah_Gul" / "Abdullah_Gul_0013.jpg")), pack,
                                   config.quality)
    index = GalleryIndex(["abdullah-gul"], enrolled.embedding[None])
    results = {}
    for enabled in (False, True):
        cfg = config.model_copy(deep=True)
        cfg.motion = MotionSettings(enabled=enabled)
        pipeline = FacePipeline(pack, index, cfg)
        verdicts = []
        for n, image in enumerate(passer_stream()):
            verdicts += pipeline.process(Frame(n, n / 15.0, image))
        verdicts += pipeline.finish(8.0)
        results[enabled] = ([(v.verdict, v.subject) for v in verdicts], pipeline.stats)
    assert results[True][0] == results[False][0] == [("granted", "abdullah-gul")]
    off, on = results[False][1], results[True][1]
    assert off.static_skipped == 0 and on.static_skipped > 15
    assert pipeline.timer.per_frame_ms()["detect"] > 0
